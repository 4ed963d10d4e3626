"""Business hours for people: is the team on duty, when is it back.

A :class:`~handoff.ops.settings.Schedule` (from ``ops.yml``) gives, per
weekday, an opening and a closing wall-clock time in the team's timezone,
days nobody is on duty, or "always" (the emergency queue). Every function
takes and returns aware datetimes; the wall clock is applied in the
schedule's zone, so a change of UTC offset (none in Lagos) would be followed.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterator, Optional, Tuple

from .settings import Ops, Schedule

#: how far ahead to look for an opening (a year of closed dates is a broken file)
_HORIZON_DAYS = 400
_FOREVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)

Interval = Tuple[dt.datetime, dt.datetime]


def _utc(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("an aware datetime is needed (naive times are ambiguous)")
    return at.astimezone(dt.timezone.utc)


def intervals(schedule: Schedule, start: dt.datetime) -> Iterator[Interval]:
    """The on-duty periods (UTC) that end after ``start``, in order; the
    first may have begun before it."""
    start = _utc(start)
    if schedule.always:
        yield start, _FOREVER
        return
    first = start.astimezone(schedule.zone).date()
    for offset in range(_HORIZON_DAYS):
        day = first + dt.timedelta(days=offset)
        hours = schedule.days[day.weekday()]
        if hours is None or day in schedule.closed_dates:
            continue
        opening = dt.datetime.combine(day, hours[0], tzinfo=schedule.zone).astimezone(dt.timezone.utc)
        closing = dt.datetime.combine(day, hours[1], tzinfo=schedule.zone).astimezone(dt.timezone.utc)
        if closing > start:
            yield opening, closing


def is_open(schedule: Schedule, at: dt.datetime) -> bool:
    """Whether people are on duty at ``at``."""
    for opening, _closing in intervals(schedule, at):
        return opening <= _utc(at)
    return False


def next_open(schedule: Schedule, at: dt.datetime) -> Optional[dt.datetime]:
    """``at`` when on duty, else the next opening (UTC); None if none within a year."""
    for opening, _closing in intervals(schedule, at):
        return max(opening, _utc(at))
    return None


def open_until(schedule: Schedule, at: dt.datetime) -> Optional[dt.datetime]:
    """When the current on-duty period ends; None when closed (or always open)."""
    if schedule.always:
        return None
    for opening, closing in intervals(schedule, at):
        return closing if opening <= _utc(at) else None
    return None


def add_open_time(schedule: Schedule, start: dt.datetime, seconds: float) -> Optional[dt.datetime]:
    """The moment ``seconds`` of on-duty time have passed since ``start`` (the
    clock stands still while closed); None if that is over a year away."""
    left = dt.timedelta(seconds=seconds)
    start = _utc(start)
    for opening, closing in intervals(schedule, start):
        begin = max(opening, start)
        if begin + left <= closing:
            return begin + left
        left -= closing - begin
    return None


def zone_label(schedule: Schedule) -> str:
    """``Africa/Lagos`` -> ``Lagos time``: how a shopper names the clock."""
    return schedule.zone.key.rsplit("/", 1)[-1].replace("_", " ") + " time"


def _clock(at: dt.datetime) -> str:
    return at.strftime("%H:%M")


def back_sentence(schedule: Schedule, at: dt.datetime) -> str:
    """When people are there, as a shopper reads it: "Our team is online
    until 19:00 Lagos time." or "Our team is back tomorrow at 10:00 Lagos
    time." (today / tomorrow / on Monday / on Monday 5 January)."""
    label = zone_label(schedule)
    if schedule.always:
        return "Our team is online around the clock."
    until = open_until(schedule, at)
    if until is not None:
        return f"Our team is online until {_clock(until.astimezone(schedule.zone))} {label}."
    back = next_open(schedule, at)
    if back is None:
        return "Our team is not on duty at the moment; please leave a message and we will reply by email."
    local = back.astimezone(schedule.zone)
    days = (local.date() - _utc(at).astimezone(schedule.zone).date()).days
    if days == 0:
        when = "today"
    elif days == 1:
        when = "tomorrow"
    elif days < 7:
        when = f"on {local.strftime('%A')}"
    else:
        when = f"on {local.strftime('%A')} {local.day} {local.strftime('%B')}"
    return f"Our team is back {when} at {_clock(local)} {label}."


def out_of_hours_text(ops: Ops, queue: str, at: dt.datetime) -> Optional[str]:
    """What a shopper who asks for a person in ``queue`` is told outside its
    hours (when people are back, and the ticket offered instead of a queue
    nobody serves); None while the queue is staffed (the wait estimate holds).
    The emergency queue is never out of hours."""
    schedule = ops.queue(queue).schedule
    if is_open(schedule, at):
        return None
    return (f"Nobody from our team is on duty right now. {back_sentence(schedule, at)} "
            "You can leave a message with your email address and we will reply by email.")
