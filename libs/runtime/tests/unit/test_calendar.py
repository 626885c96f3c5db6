"""The trading calendar of every service: XNYS from exchange_calendars, the weekday calendar of
the tests, and ALWAYS_OPEN, whose days and hours are New York's unless told otherwise."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rebal_runtime.calendar import (
    ALWAYS_OPEN,
    NEW_YORK,
    CalendarOutOfRangeError,
    ExchangeCalendar,
    RuleCalendar,
    always_open,
    trading_calendar,
    weekday_calendar,
)
from rebal_runtime.testing.calendars import NYSE_HOLIDAYS_2026, nyse_2026

SATURDAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS", start=date(2024, 1, 1), end=date(2029, 12, 31))


@pytest.fixture(scope="module")
def nyse() -> RuleCalendar:
    return nyse_2026()


# -- XNYS --------------------------------------------------------------------------------------


@pytest.mark.parametrize("holiday", NYSE_HOLIDAYS_2026)
def test_xnys_2026_holidays_are_not_sessions(xnys: ExchangeCalendar, holiday: date) -> None:
    assert not xnys.is_session(holiday)
    assert xnys.is_session(holiday - timedelta(days=1)) or holiday.weekday() == 0


def test_xnys_weekday_closures_in_2026_are_the_published_holidays() -> None:
    xnys = ExchangeCalendar("XNYS")  # the default range
    day, closed_weekdays = date(2026, 1, 1), []
    while day.year == 2026:
        if day.weekday() < 5 and not xnys.is_session(day):
            closed_weekdays.append(day)
        day += timedelta(days=1)
    assert tuple(closed_weekdays) == NYSE_HOLIDAYS_2026


def test_xnys_2026_has_251_sessions(xnys: ExchangeCalendar) -> None:
    sessions = xnys.sessions_in_range(date(2026, 1, 1), date(2026, 12, 31))
    weekdays = [
        d for d in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)) if d.weekday() < 5
    ]
    assert len(sessions) == 251
    assert list(sessions) == [d for d in weekdays if d not in NYSE_HOLIDAYS_2026]


def test_xnys_early_and_regular_closes_are_utc(xnys: ExchangeCalendar) -> None:
    # 13:00 New York (EST) on the early-close days.
    assert xnys.session_close(date(2026, 11, 27)) == datetime(2026, 11, 27, 18, tzinfo=UTC)
    assert xnys.session_close(date(2026, 12, 24)) == datetime(2026, 12, 24, 18, tzinfo=UTC)
    # 16:00 New York: EST in March before DST, EDT in July.
    assert xnys.session_close(date(2026, 3, 2)) == datetime(2026, 3, 2, 21, tzinfo=UTC)
    assert xnys.session_close(date(2026, 7, 2)) == datetime(2026, 7, 2, 20, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a session"):
        xnys.session_close(date(2026, 7, 3))


def test_xnys_opens_at_0930_new_york(xnys: ExchangeCalendar) -> None:
    """What the order-router's execution window (09:30-15:30 New York) will start from."""
    assert xnys.session_open_close(date(2026, 3, 2)) == (
        datetime(2026, 3, 2, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 2, 21, tzinfo=UTC),
    )
    opens, closes = xnys.session_open_close(date(2026, 11, 27))  # early close
    assert (opens.astimezone(NEW_YORK).time(), closes.astimezone(NEW_YORK).time()) == (
        time(9, 30),
        time(13),
    )
    with pytest.raises(ValueError, match="not a session"):
        xnys.session_open_close(date(2026, 7, 4))


def test_previous_and_next_sessions_accept_any_day(xnys: ExchangeCalendar) -> None:
    assert xnys.previous_session(date(2026, 7, 6)) == date(2026, 7, 2)  # Mon after Jul 3
    assert xnys.previous_session(date(2026, 7, 4)) == date(2026, 7, 2)  # a Saturday
    assert xnys.previous_session(date(2026, 4, 5)) == date(2026, 4, 2)  # Easter Sunday
    assert xnys.next_session(date(2026, 7, 2)) == date(2026, 7, 6)
    assert xnys.add_sessions(date(2026, 11, 25), 2) == date(2026, 11, 30)  # Thanksgiving, weekend
    assert xnys.add_sessions(date(2026, 12, 31), 1) == date(2027, 1, 4)  # New Year 2027
    with pytest.raises(ValueError, match="count"):
        xnys.add_sessions(date(2026, 11, 25), 0)


def test_xnys_refuses_days_outside_its_data(xnys: ExchangeCalendar) -> None:
    with pytest.raises(CalendarOutOfRangeError):
        xnys.is_session(date(2030, 1, 2))
    with pytest.raises(CalendarOutOfRangeError):
        xnys.previous_session(date(2030, 1, 5))
    with pytest.raises(CalendarOutOfRangeError):
        xnys.sessions_in_range(date(2023, 12, 1), date(2024, 1, 5))
    # The day right after the last known day is answerable: everything before it is known.
    assert xnys.previous_session(date(2030, 1, 1)) == date(2029, 12, 31)
    assert issubclass(CalendarOutOfRangeError, LookupError)


def test_xnys_refuses_dates_outside_the_loaded_range() -> None:
    calendar = ExchangeCalendar("XNYS", start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert calendar.add_sessions(date(2026, 12, 30), 1) == date(2026, 12, 31)
    with pytest.raises(CalendarOutOfRangeError):
        calendar.add_sessions(date(2026, 12, 31), 1)
    with pytest.raises(CalendarOutOfRangeError):
        calendar.is_session(date(2025, 12, 31))


def test_xnys_days_and_the_market_date_are_new_yorks(xnys: ExchangeCalendar) -> None:
    assert str(xnys.timezone) == "America/New_York"
    # 02:00 UTC on a Wednesday is still Tuesday evening in New York
    assert xnys.today(datetime(2026, 3, 4, 2, tzinfo=UTC)) == date(2026, 3, 3)


def test_another_zone_keeps_the_exchange_sessions(xnys: ExchangeCalendar) -> None:
    zoned = ExchangeCalendar(
        "XNYS", ZoneInfo("Europe/Brussels"), start=date(2024, 1, 1), end=date(2029, 12, 31)
    )
    assert zoned.timezone == ZoneInfo("Europe/Brussels")
    assert not zoned.is_session(date(2026, 4, 3))  # Good Friday
    assert zoned.previous_session(date(2026, 4, 3)) == date(2026, 4, 2)
    assert zoned.session_close(date(2026, 11, 27)) == xnys.session_close(date(2026, 11, 27))
    assert zoned.sessions_in_range(date(2026, 4, 1), date(2026, 4, 6)) == xnys.sessions_in_range(
        date(2026, 4, 1), date(2026, 4, 6)
    )


def test_an_exchange_is_read_on_first_use_only() -> None:
    calendar = trading_calendar("XNYS")
    assert isinstance(calendar, ExchangeCalendar) and not calendar.loaded
    assert calendar.load() is calendar and calendar.loaded


# -- the weekday calendar (tests) ----------------------------------------------------------------


def test_weekday_calendar_matches_xnys_through_2026(
    xnys: ExchangeCalendar, nyse: RuleCalendar
) -> None:
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    assert list(nyse.sessions_in_range(start, end)) == list(xnys.sessions_in_range(start, end))
    for day in xnys.sessions_in_range(start, end):
        assert nyse.session_open_close(day) == xnys.session_open_close(day), day
    for n in range(366):
        day = start + timedelta(days=n)
        assert nyse.previous_session(day) == xnys.previous_session(day), day
        assert nyse.next_session(day) == xnys.next_session(day), day


def test_weekday_calendar_sessions() -> None:
    calendar = weekday_calendar([date(2026, 11, 26)])
    assert not calendar.is_session(date(2026, 11, 26))
    assert not calendar.is_session(date(2026, 11, 28))
    assert calendar.next_session(date(2026, 11, 25)) == date(2026, 11, 27)
    assert calendar.add_sessions(date(2026, 11, 25), 3) == date(2026, 12, 1)
    with pytest.raises(ValueError, match="count"):
        calendar.add_sessions(date(2026, 11, 25), 0)


def test_weekday_calendar_rejects_closes_of_non_sessions() -> None:
    calendar = weekday_calendar()
    assert calendar.is_session(date(2026, 1, 1))  # no holidays given
    with pytest.raises(ValueError, match="not a session"):
        calendar.session_close(date(2026, 1, 3))


# -- ALWAYS_OPEN -------------------------------------------------------------------------------


def test_always_open_is_new_york_time_unless_told_otherwise() -> None:
    """The one meaning of ALWAYS_OPEN's zone: the market time zone, New York by default."""
    assert trading_calendar(ALWAYS_OPEN).timezone == NEW_YORK
    assert trading_calendar("always_open").code == ALWAYS_OPEN
    tokyo = trading_calendar(ALWAYS_OPEN, ZoneInfo("Asia/Tokyo"))
    assert isinstance(tokyo, RuleCalendar) and tokyo.timezone == ZoneInfo("Asia/Tokyo")
    # a day is the New York day: 00:00 to 24:00 EST = 05:00 to 05:00 UTC
    assert always_open().session_open_close(SATURDAY) == (
        datetime(2026, 11, 21, 5, tzinfo=UTC),
        datetime(2026, 11, 22, 5, tzinfo=UTC),
    )
    assert always_open().today(datetime(2026, 11, 22, 3, tzinfo=UTC)) == SATURDAY
    assert always_open(UTC).session_close(SATURDAY) == datetime(2026, 11, 22, tzinfo=UTC)


def test_always_open_has_a_session_every_day() -> None:
    calendar = always_open()
    assert calendar.is_session(SATURDAY) and calendar.is_session(date(2026, 12, 25))
    assert calendar.previous_session(SATURDAY) == date(2026, 11, 20)
    assert calendar.next_session(SATURDAY) == date(2026, 11, 22)  # T+1 on a Sunday
    assert calendar.add_sessions(SATURDAY, 3) == date(2026, 11, 24)
    assert len(calendar.sessions_in_range(date(2026, 11, 1), date(2026, 11, 30))) == 30
    assert calendar.today(datetime(2026, 3, 7, 23, 30, tzinfo=UTC)) == date(2026, 3, 7)
