"""Reports on the seeded November, SQLite and PostgreSQL: every figure against
its hand computation from the facts in ``tests/ops/seed.py``."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from handoff.ops import db, report_render, reports
from handoff.ops.reports import ALL
from handoff.ops.settings import Ops
from handoff.ops.sqlstats import Stats

from .seed import NOW, at


def interpolate(values: list, p: float) -> float:
    """percentile_cont by hand: ranks 0..n-1, position p * (n - 1)."""
    ordered = sorted(values)
    pos = p * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: list) -> Stats:
    return Stats(len(values), round(sum(values) / len(values), 3), round(interpolate(values, 0.5), 3),
                 round(interpolate(values, 0.95), 3))


@pytest.fixture
def november(seeded_url: str, ops: Ops) -> reports.Report:
    engine = db.engine(seeded_url)
    try:
        with engine.connect() as connection:
            return reports.build(connection, ops, reports.period(ops, dt.date(2026, 11, 1), dt.date(2026, 11, 30)),
                                 now=NOW)
    finally:
        engine.dispose()


def test_the_period_is_lagos_days(ops: Ops) -> None:
    p = reports.period(ops, dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    # Lagos is UTC+1: November starts at 23:00 UTC on October 31st
    assert p.start == at(31, 23, month=10)
    assert p.end == at(30, 23)
    with pytest.raises(ValueError, match="ends"):
        reports.period(ops, dt.date(2026, 11, 30), dt.date(2026, 11, 1))


def test_conversations_and_handoffs(november: reports.Report) -> None:
    # c01 c02 c04-c11 c14-c16; not c03 (silent), c12 and c13 (outside November in Lagos)
    assert november.conversations == 13
    assert november.by_line == {"chat": 12, "emergency": 1}
    assert november.resolved_alone == 3  # c01 c02 c14 (c11 left a ticket)
    assert november.resolved_alone_share == pytest.approx(3 / 13)
    assert november.handed_off == 9  # c04-c10 c15 c16
    assert november.handoff_rate == pytest.approx(9 / 13)
    # the transfer of c06 and the requeue of c10 continue a request; c04's abandoned stint is no request
    assert november.handoffs == {
        ("general", "requested_human"): 5,  # c04 c05 c08 c09 c15
        ("general", "not_understood"): 1,  # c16
        ("disputes", "dispute"): 1,  # c06
        ("emergency", "provider_emergency"): 1,  # c07
        ("security", "security_issue"): 1,  # c10
    }
    assert november.queues["general"].requests == 6
    assert november.queues[ALL].requests == 9


def test_first_response_and_waits(november: reports.Report) -> None:
    q = november.queues
    # first agent message after the request: c04 40, c05 400, c09 Sat 10:00 -> Mon 09:03
    c09 = 24 * 3600 + 23 * 3600 + 3 * 60  # Sat 10:00 -> Sun 10:00 -> Mon 09:03
    assert q["general"].first_response == summary([40, 400, c09])
    assert q["disputes"].first_response == summary([190])  # c06: across the transfer to security
    assert q["security"].first_response == summary([390])  # c10: across the requeue
    assert q["emergency"].first_response == summary([30])
    assert q[ALL].first_response == summary([40, 400, c09, 190, 390, 30])
    assert q[ALL].first_response.p50 == (190 + 390) / 2
    assert q[ALL].first_response.p95 == 400 + (c09 - 400) * 0.75
    # waits are per stint in its queue: the transfer and the requeue waited again
    assert q["general"].wait == summary([30, 90, c09 - 60])
    assert q["security"].wait == summary([60, 100, 60])  # c06 after the transfer, c10 twice
    assert q["security"].wait.p95 == 60 + (100 - 60) * 0.9
    assert q["disputes"].wait == summary([60])
    assert q[ALL].wait == summary([30, 90, c09 - 60, 60, 60, 100, 60, 20])


def test_handle_time_transfers_hand_backs(november: reports.Report) -> None:
    q, a = november.queues, november.agents
    assert q["general"].handle == summary([600, 1110, 480])
    assert q["security"].handle == summary([610, 630])  # not c10's requeued stint
    assert q["disputes"].handle == summary([60])  # the transfer
    assert q["emergency"].handle == summary([900])
    assert a["Ada (ada)"].handle == summary([600, 60, 900])
    assert a["Bola (bola)"].handle == summary([1110, 610, 480, 630])
    assert (q["disputes"].transfers, q[ALL].transfers, a["Ada (ada)"].transfers, a["Bola (bola)"].transfers) == (
        1, 1, 1, 0)
    assert (q["general"].handbacks, a["Bola (bola)"].handbacks, a["Ada (ada)"].handbacks) == (1, 1, 0)
    assert a["Ada (ada)"].claimed == 4  # c04 c06 c07 c10
    assert a["Bola (bola)"].claimed == 4  # c05 c06 c09 c10
    assert a[ALL].claimed == 8


def test_csat(november: reports.Report) -> None:
    q, a = november.queues, november.agents
    assert (q["general"].csat.n, q["general"].csat.mean, q["general"].csat.distribution) == (2, (5 + 3) / 2,
                                                                                             {5: 1, 3: 1})
    assert (q["security"].csat.mean, q["emergency"].csat.mean) == (2, 4)
    assert q[ALL].csat.mean == (5 + 2 + 4 + 3) / 4
    assert q[ALL].csat.distribution == {2: 1, 3: 1, 4: 1, 5: 1}
    assert a["Ada (ada)"].csat.mean == (5 + 4) / 2
    assert a["Bola (bola)"].csat.mean == (2 + 3) / 2
    comments = [(c.conversation_id, c.score, c.agent, c.text) for c in november.comments]
    assert comments == [
        ("c04", 5, "Ada (ada)", "Great, thanks! email me at [email]"),
        ("c06", 2, "Bola (bola)", "too slow, call [phone]"),
    ]


def test_sla(november: reports.Report) -> None:
    q = november.queues
    # general: c04 met, c09 met (its clock ran from Monday's opening), c05 late, c15 still
    # waiting past its deadline; c08 and c16 left before they were due
    assert (q["general"].sla_met, q["general"].sla_breached) == (2, 2)
    assert q["general"].sla_share == 2 / 4
    assert (q["security"].sla_met, q["security"].sla_breached) == (0, 1)
    assert (q["disputes"].sla_met, q["emergency"].sla_met) == (1, 1)
    assert (q[ALL].sla_met, q[ALL].sla_breached) == (4, 3)
    breaches = [(b.conversation_id, b.queue, b.deadline, b.answered_at) for b in november.breaches]
    assert breaches == [
        ("c05", "general", at(3, 12, 5), at(3, 12, 6, 40)),
        ("c10", "security", at(5, 10, 3), at(5, 10, 6, 30)),
        ("c15", "general", at(30, 9, 5), None),  # opening 09:00 UTC + 300 s
    ]
    assert november.targets == {"emergency": 60, "security": 180, "general": 300, "disputes": 600}


def test_tickets(november: reports.Report) -> None:
    assert november.tickets == {ALL: 3, "general": 2, "none": 1}  # c08 c16 from the queue, c11 from the bot


def test_text_and_csv(november: reports.Report) -> None:
    text = report_render.render(november)
    assert "conversations: 13 (chat 12, emergency 1)" in text
    assert "resolved by the assistant alone: 3 (23.1%)" in text
    assert "  answered: 2, time to answer 32.0 h / 59.8 h" in text
    rows = list(csv.DictReader(io.StringIO(report_render.to_csv(november))))
    assert rows[0] == {"figure": "conversations", "queue": "", "agent": "", "detail": "", "value": "13"}

    def value(figure: str, queue: str = "", agent: str = "", detail: str = "") -> str:
        (found,) = [r["value"] for r in rows if (r["figure"], r["queue"], r["agent"], r["detail"]) ==
                    (figure, queue, agent, detail)]
        return found

    assert float(value("first_response_s_p50", "general")) == 400
    assert value("tickets_answered", ALL) == "2" and value("tickets_answered", "general") == "2"
    assert float(value("ticket_answer_s_p50", "general")) == (2 * 86400 + 14 * 3600 + 55 * 60 + 3600) / 2
    assert float(value("wait_s_p95", "security")) == 60 + (100 - 60) * 0.9
    assert value("sla_breach", "general", detail="conversation=c15") == "not answered"
    assert value("csat_ratings", agent="Bola (bola)", detail="score=2") == "1"
    assert value("handoffs", "general", detail="reason=not_understood") == "1"
    assert value("csat_comment", "general", "Ada (ada)", "conversation=c04 score=5") == \
        "Great, thanks! email me at [email]"


def test_an_empty_period(seeded_url: str, ops: Ops) -> None:
    engine = db.engine(seeded_url)
    try:
        with engine.connect() as connection:
            empty = reports.build(connection, ops, reports.period(ops, dt.date(2025, 1, 1), dt.date(2025, 1, 31)))
    finally:
        engine.dispose()
    assert (empty.conversations, empty.resolved_alone_share, empty.breaches, empty.tickets) == (0, None, [], {ALL: 0})
    assert "conversations: 0" in report_render.render(empty)


def test_ticket_answers(november: reports.Report) -> None:
    """c08 (left Fri Nov 6 20:05 UTC) answered Mon Nov 9 11:00, c16 an hour after it was left,
    c11 (from the assistant) not yet: answered and time to answer per queue of the stint left."""
    c08 = 2 * 86400 + 14 * 3600 + 55 * 60  # Fri 20:05 -> Mon 11:00: 2 days 14 h 55 min
    assert november.tickets_answered == {ALL: 2, "general": 2}
    assert november.ticket_answer == {ALL: summary([c08, 3600]), "general": summary([c08, 3600])}
    assert november.ticket_answer[ALL].mean == (c08 + 3600) / 2
    # p50 (c08 + 3600) / 2 = 32.0 h, p95 3600 + (c08 - 3600) * 0.95 = 59.8 h
    assert november.ticket_answer[ALL].p50 == pytest.approx(32 * 3600 - 2.5 * 60)
    assert "  answered: 2, time to answer 32.0 h / 59.8 h; general 2, 32.0 h / 59.8 h" in report_render.render(november)


def test_a_database_before_the_inbox_says_answers_are_not_stored(tmp_path, ops: Ops) -> None:
    """Migrated to 0002 only (no ``tickets.answered_at``): the report still runs, and says so."""
    from alembic import command
    from alembic.config import Config

    from .conftest import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "0002")
    engine = db.engine(url)
    try:
        with engine.connect() as connection:
            old = reports.build(connection, ops, reports.period(ops, dt.date(2026, 11, 1), dt.date(2026, 11, 30)))
    finally:
        engine.dispose()
    assert old.tickets_answered is None and old.ticket_answer == {}
    assert "answered / time to answer: not stored (migrate the database" in report_render.render(old)
