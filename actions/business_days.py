"""Business-day arithmetic for processing windows ("7-10 business days").

Counting rule (the one the assistant promises to shoppers):

* Business days are Monday to Friday. Saturday and Sunday never count.
  Public holidays are not modelled: the policy does not list them.
* Day 0 is the day the request is made and never counts, whatever the time
  of day. ``add_business_days(d, n)`` is the n-th business day strictly
  after ``d``: a request on Friday plus 1 business day is Monday; a request
  on Saturday or Sunday plus 1 is also Monday.
* A window "min-max business days" requested on ``d`` runs from
  ``add_business_days(d, min)`` to ``add_business_days(d, max)``, both
  included: "within 7-10 business days" of today means the request is
  processed on one of those dates.

The module also words such a window as calendar dates ("between Thursday 3
December and Wednesday 9 December 2026") so every action says it the same way.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Tuple

from actions.policy import Window

#: ``date.weekday()`` numbers of the weekend.
WEEKEND = frozenset({5, 6})


def is_business_day(day: date) -> bool:
    """True from Monday to Friday."""
    return day.weekday() not in WEEKEND


def add_business_days(start: date, count: int) -> date:
    """The ``count``-th business day strictly after ``start`` (``start`` itself for 0)."""
    if count < 0:
        raise ValueError("count must be zero or more business days")
    if count == 0:
        return start
    # Whole weeks first (5 business days = 7 calendar days from any weekday),
    # then step through the remainder; O(1) whatever the count.
    day = start
    while not is_business_day(day):  # from a weekend, count as from the Friday before
        day -= timedelta(days=1)
    weeks, rest = divmod(count, 5)
    day += timedelta(weeks=weeks)
    while rest:
        day += timedelta(days=1)
        if is_business_day(day):
            rest -= 1
    return day


def business_days_between(start: date, end: date) -> int:
    """How many business days lie in ``(start, end]``: the inverse of the above."""
    if end < start:
        raise ValueError("end must not be before start")
    return sum(
        1 for offset in range(1, (end - start).days + 1) if is_business_day(start + timedelta(days=offset))
    )


def window_dates(start: date, window: Window) -> Tuple[date, date]:
    """First and last date of a business-day ``window`` requested on ``start``."""
    if not window.is_business_days:
        raise ValueError(f"window is in {window.unit}, not business days")
    return add_business_days(start, window.first), add_business_days(start, window.maximum)


def format_day(day: date, with_year: bool = True) -> str:
    """``Thursday 3 December 2026`` (British order, as Nigerians write dates)."""
    text = f"{day:%A} {day.day} {day:%B}"
    return f"{text} {day.year}" if with_year else text


def format_range(first: date, last: date) -> str:
    """``between Thursday 3 December and Wednesday 9 December 2026``, or ``on <day>``."""
    if first == last:
        return f"on {format_day(first)}"
    return f"between {format_day(first, with_year=first.year != last.year)} and {format_day(last)}"
