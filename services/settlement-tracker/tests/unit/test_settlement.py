"""Settlement dates on the real XNYS calendar and on the weekday calendar (both the runtime's;
the calendars themselves: libs/runtime/tests/unit/test_calendar.py)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_runtime.calendar import (
    ALWAYS_OPEN,
    CalendarOutOfRangeError,
    ExchangeCalendar,
    trading_calendar,
    weekday_calendar,
)
from rebal_runtime.testing.calendars import NEW_YEAR_2027, NYSE_HOLIDAYS_2026
from rebal_settlement_tracker.domain import SettlementCycles, TradingCalendar, settlement_date


@pytest.fixture(scope="module")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS")


def test_both_calendars_satisfy_the_port(xnys: ExchangeCalendar) -> None:
    assert isinstance(xnys, TradingCalendar)
    assert isinstance(weekday_calendar(), TradingCalendar)


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
    xnys: ExchangeCalendar, trade_date: date, days: int, expected: date
) -> None:
    assert settlement_date(trade_date, days, xnys) == expected


@settings(max_examples=150, deadline=None)
@given(
    trade_date=st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31)),
    days=st.integers(min_value=0, max_value=3),
)
def test_weekday_calendar_with_nyse_holidays_agrees_with_xnys(
    xnys: ExchangeCalendar, trade_date: date, days: int
) -> None:
    weekdays = weekday_calendar((*NYSE_HOLIDAYS_2026, NEW_YEAR_2027))
    assert settlement_date(trade_date, days, weekdays) == settlement_date(trade_date, days, xnys)


def test_a_trade_date_beyond_the_loaded_range_is_refused() -> None:
    calendar = ExchangeCalendar("XNYS", start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert settlement_date(date(2026, 12, 30), 1, calendar) == date(2026, 12, 31)
    with pytest.raises(CalendarOutOfRangeError):  # a LookupError, which the handlers catch
        settlement_date(date(2026, 12, 31), 1, calendar)


def test_settlement_cycles_per_asset_class() -> None:
    cycles = SettlementCycles({"us_equity": 1, "mmf": 0, "eu_equity": 2})
    assert [cycles.days_for(c) for c in ("us_equity", "mmf", "eu_equity", "other")] == [1, 0, 2, 1]
    assert SettlementCycles(default_days=0).days_for("us_equity") == 0
    with pytest.raises(ValueError, match="must be >= 0"):
        SettlementCycles({"us_equity": -1})
    with pytest.raises(ValueError, match="days"):
        settlement_date(date(2026, 11, 24), -1, weekday_calendar())


def test_always_open_calendar_settles_t0_on_a_saturday() -> None:
    calendar = trading_calendar(ALWAYS_OPEN)
    saturday = date(2026, 11, 21)
    assert settlement_date(saturday, 0, calendar) == saturday
    assert settlement_date(saturday, 1, calendar) == date(2026, 11, 22)
