from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rebal_scheduler.adapters.trading_calendar import (
    ExchangeTradingCalendar,
    InMemoryTradingCalendar,
)
from rebal_scheduler.domain import CalendarOutOfRangeError, session_on_or_before

HOLIDAYS_2026 = [
    date(2026, 1, 1),
    date(2026, 1, 19),
    date(2026, 2, 16),
    date(2026, 4, 3),
    date(2026, 5, 25),
    date(2026, 6, 19),
    date(2026, 7, 3),
    date(2026, 9, 7),
    date(2026, 11, 26),
    date(2026, 12, 25),
]


@pytest.mark.parametrize("holiday", HOLIDAYS_2026)
def test_xnys_2026_holidays_are_not_sessions(xnys: ExchangeTradingCalendar, holiday: date) -> None:
    assert not xnys.is_session(holiday)
    assert xnys.is_session(holiday - timedelta(days=1)) or holiday.weekday() == 0


def test_xnys_2026_has_251_sessions(xnys: ExchangeTradingCalendar) -> None:
    sessions = xnys.sessions_in_range(date(2026, 1, 1), date(2026, 12, 31))
    weekdays = [
        d for d in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)) if d.weekday() < 5
    ]
    assert len(sessions) == 251
    assert list(sessions) == [d for d in weekdays if d not in HOLIDAYS_2026]


def test_xnys_early_and_regular_closes_are_utc(xnys: ExchangeTradingCalendar) -> None:
    # 13:00 New York (EST) on the early-close days.
    assert xnys.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, tzinfo=UTC)
    assert xnys.session_close(date(2026, 12, 24)) == datetime(2026, 12, 24, 18, tzinfo=UTC)
    # 16:00 New York: EST in March before DST, EDT in July.
    assert xnys.session_close(date(2026, 3, 2)) == datetime(2026, 3, 2, 21, tzinfo=UTC)
    assert xnys.session_close(date(2026, 7, 2)) == datetime(2026, 7, 2, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a session"):
        xnys.session_close(date(2026, 7, 3))


def test_previous_session_accepts_any_day(xnys: ExchangeTradingCalendar) -> None:
    assert xnys.previous_session(date(2026, 7, 6)) == date(2026, 7, 2)  # Mon after Jul 3
    assert xnys.previous_session(date(2026, 7, 4)) == date(2026, 7, 2)  # a Saturday
    assert session_on_or_before(xnys, date(2026, 7, 2)) == date(2026, 7, 2)
    assert session_on_or_before(xnys, date(2026, 4, 5)) == date(2026, 4, 2)  # Easter Sunday


def test_xnys_refuses_days_outside_its_data(xnys: ExchangeTradingCalendar) -> None:
    with pytest.raises(CalendarOutOfRangeError):
        xnys.is_session(date(2030, 1, 2))
    with pytest.raises(CalendarOutOfRangeError):
        xnys.previous_session(date(2030, 1, 5))
    with pytest.raises(CalendarOutOfRangeError):
        xnys.sessions_in_range(date(2023, 12, 1), date(2024, 1, 5))
    # The day right after the last known day is answerable: everything before it is known.
    assert xnys.previous_session(date(2030, 1, 1)) == date(2029, 12, 31)


def test_xnys_timezone_is_new_york(xnys: ExchangeTradingCalendar) -> None:
    assert str(xnys.timezone) == "America/New_York"


def test_in_memory_calendar_matches_xnys_through_2026(
    xnys: ExchangeTradingCalendar, nyse_2026_in_memory: InMemoryTradingCalendar
) -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert list(nyse_2026_in_memory.sessions_in_range(start, end)) == list(
        xnys.sessions_in_range(start, end)
    )
    for day in xnys.sessions_in_range(start, end):
        assert nyse_2026_in_memory.session_close(day) == xnys.session_close(day), day
    for n in range(366):
        day = start + timedelta(days=n)
        assert nyse_2026_in_memory.previous_session(day) == xnys.previous_session(day), day


def test_in_memory_calendar_rejects_closes_of_non_sessions() -> None:
    calendar = InMemoryTradingCalendar()
    assert calendar.is_session(date(2026, 1, 1))  # no holidays given
    with pytest.raises(ValueError, match="not a session"):
        calendar.session_close(date(2026, 1, 3))
