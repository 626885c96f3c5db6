from __future__ import annotations

import calendar as gregorian
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_runtime.calendar import ExchangeCalendar, weekday_calendar
from rebal_scheduler.domain import (
    WEEKDAYS,
    CalendarCondition,
    CalendarSubType,
    InvalidCalendarConditionError,
    rebalance_dates,
    session_on_or_before,
)
from rebal_scheduler.domain.trading_calendar import TradingCalendar

YEAR_2026 = (date(2026, 1, 1), date(2026, 12, 31))


def dates_2026(condition: CalendarCondition, calendar: TradingCalendar) -> list[date]:
    return list(rebalance_dates(condition, *YEAR_2026, calendar))


# --- validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub_type", "day"),
    [
        ("daily", 1),
        ("weekly", "Saturday"),
        ("weekly", "monday"),
        ("weekly", 1),
        ("monthly", 0),
        ("monthly", 32),
        ("monthly", "first"),
        ("monthly", True),
        ("quarterly", 40),
        ("annually", "04-31"),  # no year has April 31
        ("annually", "02-30"),
        ("annually", "13-01"),
        ("annually", "2-29"),
        ("annually", 229),
    ],
)
def test_invalid_conditions_are_rejected(sub_type: str, day: str | int) -> None:
    with pytest.raises(InvalidCalendarConditionError):
        CalendarCondition.parse(sub_type, day)


def test_wire_forms_are_normalised() -> None:
    assert CalendarCondition.parse("monthly", "15") == CalendarCondition(
        CalendarSubType.MONTHLY, 15
    )
    assert CalendarCondition.parse("annually", "02-29").day == "02-29"
    assert CalendarCondition.parse("weekly", "Friday").sub_type is CalendarSubType.WEEKLY


def test_quarter_months_must_be_months(xnys: ExchangeCalendar) -> None:
    with pytest.raises(ValueError, match="quarter_months"):
        rebalance_dates(
            CalendarCondition.parse("quarterly", 1),
            *YEAR_2026,
            xnys,
            quarter_months=frozenset({13}),
        )


# --- the real XNYS calendar, 2026 --------------------------------------------------


def test_monthly_31_rolls_back_in_short_months_and_weekends(xnys: ExchangeCalendar) -> None:
    assert dates_2026(CalendarCondition.parse("monthly", 31), xnys) == [
        date(2026, 1, 30),  # Jan 31 is a Saturday
        date(2026, 2, 27),  # no Feb 31 -> Feb 28, a Saturday
        date(2026, 3, 31),
        date(2026, 4, 30),  # no Apr 31
        date(2026, 5, 29),  # May 31 is a Sunday
        date(2026, 6, 30),  # no Jun 31
        date(2026, 7, 31),
        date(2026, 8, 31),
        date(2026, 9, 30),  # no Sep 31
        date(2026, 10, 30),  # Oct 31 is a Saturday
        date(2026, 11, 30),  # no Nov 31
        date(2026, 12, 31),
    ]


def test_monthly_1_can_roll_into_the_previous_month(xnys: ExchangeCalendar) -> None:
    dates = dates_2026(CalendarCondition.parse("monthly", 1), xnys)
    # Jan 1 2026 (holiday) rolls into 2025; Jan 1 2027 (holiday) rolls into this range.
    assert dates[0] == date(2026, 1, 30)  # Feb 1 is a Sunday
    assert dates[-1] == date(2026, 12, 31)
    assert date(2026, 7, 31) in dates  # Aug 1 is a Saturday
    assert len(dates) == 12


def test_monthly_rolls_over_thanksgiving(xnys: ExchangeCalendar) -> None:
    dates = dates_2026(CalendarCondition.parse("monthly", 26), xnys)
    assert date(2026, 11, 25) in dates
    assert date(2026, 11, 26) not in dates


def test_quarterly_uses_quarter_end_months(xnys: ExchangeCalendar) -> None:
    assert dates_2026(CalendarCondition.parse("quarterly", 31), xnys) == [
        date(2026, 3, 31),
        date(2026, 6, 30),
        date(2026, 9, 30),
        date(2026, 12, 31),
    ]
    assert dates_2026(CalendarCondition.parse("quarterly", 15), xnys) == [
        date(2026, 3, 13),  # Mar 15 is a Sunday
        date(2026, 6, 15),
        date(2026, 9, 15),
        date(2026, 12, 15),
    ]


def test_quarterly_months_follow_alpaca_text_when_asked(xnys: ExchangeCalendar) -> None:
    alpaca_text_months = frozenset({1, 3, 6, 12})
    dates = rebalance_dates(
        CalendarCondition.parse("quarterly", 3),
        *YEAR_2026,
        xnys,
        quarter_months=alpaca_text_months,
    )
    assert dates == (
        date(2026, 1, 2),  # Jan 3 is a Saturday
        date(2026, 3, 3),
        date(2026, 6, 3),
        date(2026, 12, 3),
        date(2026, 12, 31),  # Jan 3 2027 is a Sunday, Jan 1 2027 a holiday
    )


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("07-04", date(2026, 7, 2)),  # Saturday -> Jul 3 (observed holiday) -> Jul 2
        ("07-03", date(2026, 7, 2)),
        ("12-25", date(2026, 12, 24)),  # Christmas -> the early-close day before
        ("11-26", date(2026, 11, 25)),  # Thanksgiving
        ("04-03", date(2026, 4, 2)),  # Good Friday
        ("02-29", date(2026, 2, 27)),  # common year -> Feb 28, a Saturday -> Feb 27
        ("06-30", date(2026, 6, 30)),
    ],
)
def test_annually_2026(xnys: ExchangeCalendar, day: str, expected: date) -> None:
    assert dates_2026(CalendarCondition.parse("annually", day), xnys) == [expected]


def test_annually_new_year_lands_on_previous_new_years_eve(xnys: ExchangeCalendar) -> None:
    # 01-01 of 2026 rolls into 2025, 01-01 of 2027 into 2026-12-31.
    assert dates_2026(CalendarCondition.parse("annually", "01-01"), xnys) == [date(2026, 12, 31)]


def test_annually_feb_29_in_a_leap_year(xnys: ExchangeCalendar) -> None:
    feb_29 = CalendarCondition.parse("annually", "02-29")
    assert rebalance_dates(feb_29, date(2028, 1, 1), date(2028, 12, 31), xnys) == (
        date(2028, 2, 29),
    )
    assert rebalance_dates(feb_29, date(2027, 1, 1), date(2027, 12, 31), xnys) == (
        date(2027, 2, 26),  # Feb 28 2027 is a Sunday
    )


def test_weekly_monday_rolls_to_the_friday_before(xnys: ExchangeCalendar) -> None:
    dates = dates_2026(CalendarCondition.parse("weekly", "Monday"), xnys)
    monday_holidays_to_friday = {
        date(2026, 1, 16),  # MLK day
        date(2026, 2, 13),  # Washington's Birthday
        date(2026, 5, 22),  # Memorial Day
        date(2026, 9, 4),  # Labor Day
    }
    assert len(dates) == 52
    assert monday_holidays_to_friday <= set(dates)
    assert all(d.weekday() == 0 for d in dates if d not in monday_holidays_to_friday)
    assert all(xnys.is_session(d) for d in dates)


def test_weekly_friday_over_holidays_and_year_end(xnys: ExchangeCalendar) -> None:
    dates = dates_2026(CalendarCondition.parse("weekly", "Friday"), xnys)
    rolled_to_thursday = {
        date(2026, 4, 2),  # Good Friday
        date(2026, 6, 18),  # Juneteenth
        date(2026, 7, 2),  # Independence Day observed
        date(2026, 12, 24),  # Christmas
        date(2026, 12, 31),  # New Year's Day 2027
    }
    assert rolled_to_thursday <= set(dates)
    assert {d for d in dates if d.weekday() != 4} == rolled_to_thursday
    assert len(dates) == 53  # 52 Fridays in 2026 plus the one of 2027-01-01


def test_empty_and_single_day_ranges(xnys: ExchangeCalendar) -> None:
    monthly_31 = CalendarCondition.parse("monthly", 31)
    assert rebalance_dates(monthly_31, date(2026, 4, 30), date(2026, 4, 30), xnys) == (
        date(2026, 4, 30),
    )
    assert rebalance_dates(monthly_31, date(2026, 4, 1), date(2026, 4, 29), xnys) == ()
    assert rebalance_dates(monthly_31, date(2026, 5, 1), date(2026, 4, 1), xnys) == ()


# --- property: agrees with a brute-force oracle on random calendars ---------------


def _is_nominal(condition: CalendarCondition, day: date, quarter_months: frozenset[int]) -> bool:
    """Independent definition: is ``day`` the condition's day before rolling?"""
    month_length = gregorian.monthrange(day.year, day.month)[1]
    if condition.sub_type is CalendarSubType.WEEKLY:
        return WEEKDAYS[day.weekday()] == condition.day if day.weekday() < 5 else False
    if condition.sub_type is CalendarSubType.ANNUALLY:
        month, dom = (int(p) for p in str(condition.day).split("-"))
        return day.month == month and day.day == min(dom, month_length)
    wanted = int(condition.day)
    in_months = condition.sub_type is CalendarSubType.MONTHLY or day.month in quarter_months
    return in_months and day.day == min(wanted, month_length)


def _oracle(
    condition: CalendarCondition,
    start: date,
    end: date,
    calendar: TradingCalendar,
    quarter_months: frozenset[int],
) -> list[date]:
    # A rolled date is never more than the longest closure away; 40 days is plenty here.
    days = (start + timedelta(days=n) for n in range((end - start).days + 40))
    rolled = {
        session_on_or_before(calendar, d) for d in days if _is_nominal(condition, d, quarter_months)
    }
    return sorted(d for d in rolled if start <= d <= end)


conditions = st.one_of(
    st.builds(lambda d: CalendarCondition.parse("weekly", d), st.sampled_from(WEEKDAYS)),
    st.builds(lambda d: CalendarCondition.parse("monthly", d), st.integers(1, 31)),
    st.builds(lambda d: CalendarCondition.parse("quarterly", d), st.integers(1, 31)),
    st.builds(
        lambda d: CalendarCondition.parse("annually", d.strftime("%m-%d")),
        st.dates(date(2000, 1, 1), date(2000, 12, 31)),  # a leap year: includes 02-29
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    condition=conditions,
    holidays=st.sets(st.dates(date(2027, 12, 1), date(2029, 3, 31)), max_size=60),
    start=st.dates(date(2028, 1, 1), date(2028, 12, 31)),
    length=st.integers(0, 120),
    quarter_months=st.frozensets(st.integers(1, 12), min_size=1, max_size=12),
    split=st.integers(0, 120),
)
def test_matches_brute_force_and_splits_cleanly(
    condition: CalendarCondition,
    holidays: set[date],
    start: date,
    length: int,
    quarter_months: frozenset[int],
    split: int,
) -> None:
    calendar = weekday_calendar(holidays)
    end = start + timedelta(days=length)
    dates = rebalance_dates(condition, start, end, calendar, quarter_months=quarter_months)
    assert list(dates) == _oracle(condition, start, end, calendar, quarter_months)
    assert all(calendar.is_session(d) for d in dates)
    # Splitting the range never loses or repeats a date.
    middle = start + timedelta(days=min(split, length))
    left = rebalance_dates(condition, start, middle, calendar, quarter_months=quarter_months)
    right = rebalance_dates(
        condition, middle + timedelta(days=1), end, calendar, quarter_months=quarter_months
    )
    assert left + right == dates


def test_session_on_or_before_rolls_back_to_a_session(xnys: ExchangeCalendar) -> None:
    assert session_on_or_before(xnys, date(2026, 7, 2)) == date(2026, 7, 2)
    assert session_on_or_before(xnys, date(2026, 4, 5)) == date(2026, 4, 2)  # Easter Sunday
