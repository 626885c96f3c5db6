"""Settlement dates on the real XNYS calendar and on the in-memory weekday calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_settlement_tracker.adapters.trading_calendar import (
    CalendarOutOfRange,
    ExchangeTradingCalendar,
    WeekdayCalendar,
)
from rebal_settlement_tracker.domain import SettlementCycles, TradingCalendar, settlement_date

# NYSE's published 2026 holidays (nyse.com "Holidays & Trading Hours"), plus New Year 2027.
NYSE_2026_HOLIDAYS = (
    date(2026, 1, 1),  # New Year's Day
    date(2026, 1, 19),  # Martin Luther King Jr. Day
    date(2026, 2, 16),  # Washington's Birthday
    date(2026, 4, 3),  # Good Friday
    date(2026, 5, 25),  # Memorial Day
    date(2026, 6, 19),  # Juneteenth
    date(2026, 7, 3),  # Independence Day (observed; July 4 is a Saturday)
    date(2026, 9, 7),  # Labor Day
    date(2026, 11, 26),  # Thanksgiving Day
    date(2026, 12, 25),  # Christmas Day
)
NEW_YEAR_2027 = date(2027, 1, 1)


@pytest.fixture(scope="module")
def xnys() -> ExchangeTradingCalendar:
    return ExchangeTradingCalendar("XNYS")


def test_both_calendars_satisfy_the_port(xnys: ExchangeTradingCalendar) -> None:
    assert isinstance(xnys, TradingCalendar)
    assert isinstance(WeekdayCalendar(), TradingCalendar)


def test_xnys_weekday_closures_in_2026_are_the_published_holidays(
    xnys: ExchangeTradingCalendar,
) -> None:
    day, closed_weekdays = date(2026, 1, 1), []
    while day.year == 2026:
        if day.weekday() < 5 and not xnys.is_session(day):
            closed_weekdays.append(day)
        day += timedelta(days=1)
    assert tuple(closed_weekdays) == NYSE_2026_HOLIDAYS


@pytest.mark.parametrize(
    ("trade_date", "days", "expected"),
    [
        (date(2026, 11, 27), 1, date(2026, 11, 30)),  # Friday → Monday, over the weekend
        (date(2026, 11, 25), 1, date(2026, 11, 27)),  # Wednesday → Friday, skips Thanksgiving
        (date(2026, 11, 25), 2, date(2026, 11, 30)),  # T+2 over Thanksgiving and the weekend
        (date(2026, 4, 2), 1, date(2026, 4, 6)),  # Thursday → Monday, skips Good Friday
        (date(2026, 7, 2), 1, date(2026, 7, 6)),  # skips Independence Day observed
        (date(2026, 12, 24), 1, date(2026, 12, 28)),  # skips Christmas
        (date(2026, 12, 31), 1, date(2027, 1, 4)),  # skips New Year 2027
        (date(2026, 11, 24), 0, date(2026, 11, 24)),  # T+0 on a session: same day
        (date(2026, 11, 26), 0, date(2026, 11, 27)),  # T+0 booked on Thanksgiving: next session
        (date(2026, 11, 28), 1, date(2026, 12, 1)),  # Saturday counts from Monday: Tuesday
    ],
)
def test_settlement_date_on_xnys(
    xnys: ExchangeTradingCalendar, trade_date: date, days: int, expected: date
) -> None:
    assert settlement_date(trade_date, days, xnys) == expected


@settings(max_examples=150, deadline=None)
@given(
    trade_date=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    days=st.integers(min_value=0, max_value=3),
)
def test_weekday_calendar_with_nyse_holidays_agrees_with_xnys(
    xnys: ExchangeTradingCalendar, trade_date: date, days: int
) -> None:
    weekdays = WeekdayCalendar((*NYSE_2026_HOLIDAYS, NEW_YEAR_2027))
    assert settlement_date(trade_date, days, weekdays) == settlement_date(trade_date, days, xnys)


def test_weekday_calendar_sessions() -> None:
    calendar = WeekdayCalendar([date(2026, 11, 26)])
    assert not calendar.is_session(date(2026, 11, 26))
    assert not calendar.is_session(date(2026, 11, 28))
    assert calendar.next_session(date(2026, 11, 25)) == date(2026, 11, 27)
    assert calendar.sessions_after(date(2026, 11, 25), 3) == date(2026, 12, 1)
    with pytest.raises(ValueError, match="count"):
        calendar.sessions_after(date(2026, 11, 25), 0)


def test_xnys_refuses_dates_outside_the_loaded_range() -> None:
    calendar = ExchangeTradingCalendar("XNYS", start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert calendar.sessions_after(date(2026, 12, 30), 1) == date(2026, 12, 31)
    with pytest.raises(CalendarOutOfRange):
        calendar.sessions_after(date(2026, 12, 31), 1)
    with pytest.raises(CalendarOutOfRange):
        calendar.is_session(date(2025, 12, 31))


def test_settlement_cycles_per_asset_class() -> None:
    cycles = SettlementCycles({"us_equity": 1, "mmf": 0, "eu_equity": 2})
    assert [cycles.days_for(c) for c in ("us_equity", "mmf", "eu_equity", "other")] == [1, 0, 2, 1]
    assert SettlementCycles(default_days=0).days_for("us_equity") == 0
    with pytest.raises(ValueError, match="must be >= 0"):
        SettlementCycles({"us_equity": -1})
    with pytest.raises(ValueError, match="days"):
        settlement_date(date(2026, 11, 24), -1, WeekdayCalendar())


def test_always_open_calendar_settles_t0_on_a_saturday() -> None:
    from rebal_settlement_tracker.adapters.trading_calendar import AlwaysOpenCalendar, calendar_for

    calendar = calendar_for("ALWAYS_OPEN")
    assert isinstance(calendar, AlwaysOpenCalendar)
    saturday = date(2026, 11, 21)
    assert calendar.is_session(saturday)
    assert calendar.sessions_after(saturday, 1) == date(2026, 11, 22)
