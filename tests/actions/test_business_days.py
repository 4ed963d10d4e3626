"""actions.business_days: windows in business days, as calendar dates."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actions.business_days import (
    add_business_days,
    business_days_between,
    format_range,
    is_business_day,
    window_dates,
)
from actions.policy import Window, load_policy

WED = date(2026, 11, 25)
FRI = date(2026, 11, 27)
SAT = date(2026, 11, 28)
SUN = date(2026, 11, 29)
MON = date(2026, 11, 30)


@pytest.mark.parametrize(
    "start, count, expected",
    [
        (WED, 1, date(2026, 11, 26)),
        (WED, 2, FRI),
        (WED, 3, MON),  # skips the weekend
        (FRI, 1, MON),
        (SAT, 1, MON),
        (SUN, 1, MON),
        (SAT, 5, date(2026, 12, 4)),
        (FRI, 5, date(2026, 12, 4)),
        (MON, 5, date(2026, 12, 7)),
        (date(2026, 12, 31), 1, date(2027, 1, 1)),  # Thursday -> Friday, new year
        (date(2027, 1, 1), 1, date(2027, 1, 4)),  # Friday -> Monday
        (date(2026, 12, 24), 7, date(2027, 1, 4)),  # across Christmas week and the year end
        (date(2028, 2, 25), 3, date(2028, 3, 1)),  # leap February: Fri 25 -> Wed 1 March
        (WED, 0, WED),
        (SAT, 0, SAT),  # day 0 is the request day itself, even on a weekend
    ],
)
def test_add_business_days(start: date, count: int, expected: date) -> None:
    assert add_business_days(start, count) == expected


def test_negative_count_is_refused() -> None:
    with pytest.raises(ValueError):
        add_business_days(WED, -1)


def test_refund_window_from_a_friday_request() -> None:
    first, last = window_dates(FRI, load_policy().window("refund_processing"))
    assert (first, last) == (date(2026, 12, 8), date(2026, 12, 11))
    assert format_range(first, last) == "between Tuesday 8 December and Friday 11 December 2026"


def test_window_over_new_year_names_both_years() -> None:
    first, last = window_dates(date(2026, 12, 23), Window(minimum=7, maximum=10, unit="business days"))
    assert format_range(first, last) == "between Friday 1 January and Wednesday 6 January 2027"
    first, last = window_dates(date(2026, 12, 21), Window(minimum=7, maximum=10, unit="business days"))
    assert format_range(first, last) == "between Wednesday 30 December 2026 and Monday 4 January 2027"


def test_deadline_without_minimum_is_a_single_day() -> None:
    first, last = window_dates(FRI, Window(minimum=None, maximum=5, unit="business days"))
    assert first == last == date(2026, 12, 4)
    assert format_range(first, last) == "on Friday 4 December 2026"


def test_hour_windows_are_not_business_day_windows() -> None:
    with pytest.raises(ValueError):
        window_dates(WED, load_policy().window("general_response"))


days = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))


@given(start=days, count=st.integers(min_value=1, max_value=400))
def test_result_is_a_weekday_with_exactly_n_weekdays_in_between(start: date, count: int) -> None:
    end = add_business_days(start, count)
    assert is_business_day(end)
    assert end > start
    weekdays = sum(1 for i in range(1, (end - start).days + 1) if (start + timedelta(days=i)).weekday() < 5)
    assert weekdays == count
    assert business_days_between(start, end) == count
    # and it is the first such day: one calendar day earlier has one fewer
    assert business_days_between(start, end - timedelta(days=1)) == count - 1


@given(start=days, a=st.integers(min_value=0, max_value=60), b=st.integers(min_value=0, max_value=60))
def test_adding_is_monotonic(start: date, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert add_business_days(start, low) <= add_business_days(start, high)
