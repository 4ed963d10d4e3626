"""Team hours, "when are people back", and first-response deadlines across
weekends, day boundaries, closed dates and the 24/7 emergency queue.

November 2026: Friday the 6th, Saturday 7th, Sunday 8th, Monday 9th. Test
hours: Monday-Friday 10:00-19:00 Lagos (UTC+1)."""
from __future__ import annotations

import copy
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from handoff.ops import hours, sla
from handoff.ops.settings import DEFAULT_OPS_FILE, Ops, OpsError, load_ops, parse

from .seed import TEST_OPS

LAGOS = ZoneInfo("Africa/Lagos")


def lagos(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=LAGOS)


@pytest.mark.parametrize(
    "when, open_now, sentence",
    [
        (lagos(6, 18, 30), True, "Our team is online until 19:00 Lagos time."),
        (lagos(6, 10), True, "Our team is online until 19:00 Lagos time."),  # opening minute: open
        (lagos(6, 19), False, "Our team is back on Monday at 10:00 Lagos time."),  # closing minute: closed
        (lagos(7, 12), False, "Our team is back on Monday at 10:00 Lagos time."),
        (lagos(8, 23, 59), False, "Our team is back tomorrow at 10:00 Lagos time."),
        (lagos(9, 0, 1), False, "Our team is back today at 10:00 Lagos time."),  # just past midnight
        (lagos(9, 9, 59), False, "Our team is back today at 10:00 Lagos time."),
    ],
)
def test_is_the_team_open_and_when_is_it_back(ops: Ops, when: dt.datetime, open_now: bool, sentence: str) -> None:
    assert hours.is_open(ops.team, when) is open_now
    assert hours.back_sentence(ops.team, when) == sentence
    # the same instant given in UTC reads the same
    assert hours.back_sentence(ops.team, when.astimezone(dt.timezone.utc)) == sentence


def test_next_open_is_a_utc_instant(ops: Ops) -> None:
    assert hours.next_open(ops.team, lagos(7, 12)) == dt.datetime(2026, 11, 9, 9, 0, tzinfo=dt.timezone.utc)
    assert hours.next_open(ops.team, lagos(6, 12)) == lagos(6, 12)  # open: now
    with pytest.raises(ValueError, match="aware"):
        hours.is_open(ops.team, dt.datetime(2026, 11, 6, 12))


def test_closed_dates_move_the_return() -> None:
    raw = copy.deepcopy(TEST_OPS)
    raw["closed_dates"] = ["2026-11-09"]  # a public holiday on Monday
    assert hours.back_sentence(parse(raw).team, lagos(7, 12)) == "Our team is back on Tuesday at 10:00 Lagos time."
    raw["closed_dates"] = [f"2026-11-{d:02d}" for d in range(9, 14)]  # the whole next week
    assert hours.back_sentence(parse(raw).team, lagos(7, 12)) == (
        "Our team is back on Monday 16 November at 10:00 Lagos time.")


def test_the_emergency_queue_is_always_staffed(ops: Ops) -> None:
    emergency = ops.queue("emergency").schedule
    for when in (lagos(7, 3), lagos(8, 23, 59), lagos(6, 19)):
        assert hours.is_open(emergency, when)
        assert hours.back_sentence(emergency, when) == "Our team is online around the clock."
    assert not hours.is_open(ops.queue("general").schedule, lagos(7, 3))


def test_the_honest_answer_out_of_hours(ops: Ops) -> None:
    assert hours.out_of_hours_text(ops, "general", lagos(6, 12)) is None  # staffed: the wait estimate holds
    assert hours.out_of_hours_text(ops, "security", lagos(7, 12)) == (
        "Nobody from our team is on duty right now. Our team is back on Monday at 10:00 Lagos time. "
        "You can leave a message with your email address and we will reply by email.")
    assert hours.out_of_hours_text(ops, "emergency", lagos(7, 3)) is None  # never out of hours


def test_deadlines_count_open_time_only(ops: Ops) -> None:
    target = ops.queue("general").first_response_s
    # open: plain addition
    assert sla.deadline(ops, "general", lagos(6, 12)) == lagos(6, 12) + dt.timedelta(seconds=target)
    # 2 minutes before Friday's close: 120 s on Friday, the rest from Monday's opening
    assert sla.deadline(ops, "general", lagos(6, 18, 58)) == lagos(9, 10) + dt.timedelta(seconds=target - 120)
    # a Saturday night chat: due after Monday's opening
    assert sla.deadline(ops, "security", lagos(7, 23)) == lagos(9, 10) + dt.timedelta(
        seconds=ops.queue("security").first_response_s)
    # before opening on a weekday: the clock starts at 10:00 the same day
    assert sla.deadline(ops, "disputes", lagos(9, 7)) == lagos(9, 10) + dt.timedelta(
        seconds=ops.queue("disputes").first_response_s)
    # emergency, Saturday 03:00: its own 24/7 clock
    assert sla.deadline(ops, "emergency", lagos(7, 3)) == lagos(7, 3) + dt.timedelta(
        seconds=ops.queue("emergency").first_response_s)
    # an unknown queue (a newer assistant's) is judged as general
    assert sla.deadline(ops, "pharmacy", lagos(6, 12)) == sla.deadline(ops, "general", lagos(6, 12))


def test_verdicts_of_a_waiting_chat(ops: Ops) -> None:
    asked = lagos(6, 18, 58)
    due = sla.deadline(ops, "general", asked)
    assert due is not None
    waiting = sla.judge(ops, "general", asked, now=lagos(7, 12))
    assert (waiting.status, waiting.remaining_s, waiting.counted) == (sla.PENDING, (due - lagos(7, 12)).total_seconds(),
                                                                      False)
    late = sla.judge(ops, "general", asked, now=due + dt.timedelta(seconds=1))
    assert (late.status, late.remaining_s, late.counted) == (sla.BREACHED, -1, True)
    assert sla.judge(ops, "general", asked, now=lagos(10, 12), answered_at=due).status == sla.MET
    assert sla.judge(ops, "general", asked, now=lagos(10, 12),
                     answered_at=due + dt.timedelta(seconds=1)).status == sla.BREACHED
    # left (a ticket) over the weekend, before it was due: not counted; after: a breach
    assert sla.judge(ops, "general", asked, now=lagos(10, 12), ended_at=lagos(7, 9)).status == sla.LEFT
    assert sla.judge(ops, "general", asked, now=lagos(10, 12),
                     ended_at=due + dt.timedelta(minutes=5)).status == sla.BREACHED


def test_the_shipped_settings() -> None:
    ops = load_ops(str(DEFAULT_OPS_FILE))  # not $KARA_OPS_FILE: the tests' own (tests/conftest.py)
    targets = {name: q.first_response_s for name, q in ops.queues.items()}
    assert min(targets, key=targets.__getitem__) == "emergency"
    assert ops.queue("emergency").schedule.always
    assert ops.team.zone.key == "Africa/Lagos"
    assert ops.transcript_days > 0


@pytest.mark.parametrize(
    "change, message",
    [
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not a known zone"),
        ({"team_hours": {"monday": ["19:00", "10:00"]}}, "team_hours.monday: closing 10:00 is not after opening"),
        ({"team_hours": {"funday": ["10:00", "19:00"]}}, "team_hours: give some of monday"),
        ({"team_hours": {"monday": "closed"}}, "every day is closed"),
        ({"team_hours": {"monday": ["9am", "5pm"]}}, "'9am' is not a time like 09:30"),
        ({"queues": {"general": {"first_response_s": 300}}}, "queues.emergency: missing"),
        ({"retention": {"transcript_days": 0}}, "retention.transcript_days: 0 is not a whole number above 0"),
        ({"closed_dates": ["2026-13-01"]}, "closed_dates"),
        ({"agent_silence": {"flag_after_s": 0}}, "agent_silence.flag_after_s: 0 is not a whole number"),
        ({"agent_silence": {"flag_after_s": 300, "requeue_after_s": 60}},
         "agent_silence.requeue_after_s: 60 is before flag_after_s 300"),
        ({"agent_silence": "soon"}, "agent_silence: give flag_after_s and requeue_after_s"),
    ],
)
def test_a_broken_file_is_refused_with_the_key(change: dict, message: str) -> None:
    raw = copy.deepcopy(TEST_OPS)
    raw.update(change)
    with pytest.raises(OpsError, match=message.replace("(", r"\(")):
        parse(raw)


def test_an_unknown_queue_is_refused() -> None:
    raw = copy.deepcopy(TEST_OPS)
    raw["queues"]["pharmacy"] = {"first_response_s": 60}
    with pytest.raises(OpsError, match="queues: unknown pharmacy"):
        parse(raw)


def test_agent_silence_defaults_and_off() -> None:
    raw = copy.deepcopy(TEST_OPS)
    assert (parse(raw).silence_flag_s, parse(raw).silence_requeue_s) == (180, 600)  # not given: the defaults
    for off in ("off", False, None):  # YAML reads a bare `off` as false
        raw["agent_silence"] = {"flag_after_s": 120, "requeue_after_s": off}
        assert (parse(raw).silence_flag_s, parse(raw).silence_requeue_s) == (120, None)
    shipped = load_ops(str(DEFAULT_OPS_FILE))
    assert (shipped.silence_flag_s, shipped.silence_requeue_s) == (180, 600)
