"""Trading calendars implementing ``domain.settlement.TradingCalendar``.

``ExchangeTradingCalendar`` reads an exchange_calendars calendar once (it takes about a second
to build) and answers from a sorted tuple of session dates with bisection.
``WeekdayCalendar`` is Monday to Friday minus explicit holidays: no dependency, for tests.
Both tell their time zone, so that callers can turn "now" into the exchange's date.
"""

from __future__ import annotations

import warnings
from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_START = date(2015, 1, 1)
DEFAULT_END = date(2035, 12, 31)
NEW_YORK = ZoneInfo("America/New_York")


class CalendarOutOfRange(LookupError):
    """A date outside the sessions this calendar has loaded."""


@lru_cache(maxsize=8)
def _load_calendar(exchange: str, start: date, end: date) -> tuple[tuple[date, ...], str]:
    """Session dates and the IANA time zone name of an exchange."""
    import exchange_calendars

    with warnings.catch_warnings():
        # pandas >= 3.1 deprecation warnings raised inside exchange_calendars itself.
        warnings.simplefilter("ignore")
        calendar = exchange_calendars.get_calendar(
            exchange, start=start.isoformat(), end=end.isoformat()
        )
        return tuple(session.date() for session in calendar.sessions), str(calendar.tz)


class ExchangeTradingCalendar:
    """Sessions of an exchange (default XNYS, the New York Stock Exchange)."""

    def __init__(
        self, exchange: str = "XNYS", start: date = DEFAULT_START, end: date = DEFAULT_END
    ) -> None:
        self.exchange = exchange
        self._sessions, timezone_name = _load_calendar(exchange, start, end)
        self.timezone = ZoneInfo(timezone_name)
        self._session_set = frozenset(self._sessions)
        self._start, self._end = start, end

    def _check(self, day: date) -> None:
        if not self._start <= day <= self._end:
            raise CalendarOutOfRange(
                f"{day} is outside the loaded {self.exchange} range {self._start}..{self._end}"
            )

    def is_session(self, day: date) -> bool:
        self._check(day)
        return day in self._session_set

    def next_session(self, day: date) -> date:
        return self.sessions_after(day, 1)

    def sessions_after(self, day: date, count: int) -> date:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        self._check(day)
        index = bisect_right(self._sessions, day) + count - 1
        if index >= len(self._sessions):
            raise CalendarOutOfRange(f"{count} sessions after {day} is past {self._end}")
        return self._sessions[index]


class WeekdayCalendar:
    """Monday to Friday, minus the given holidays."""

    def __init__(self, holidays: Iterable[date] = (), timezone: ZoneInfo = NEW_YORK) -> None:
        self.holidays = frozenset(holidays)
        self.timezone = timezone

    def is_session(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays

    def next_session(self, day: date) -> date:
        candidate = day + timedelta(days=1)
        while not self.is_session(candidate):
            candidate += timedelta(days=1)
        return candidate

    def sessions_after(self, day: date, count: int) -> date:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        for _ in range(count):
            day = self.next_session(day)
        return day


class AlwaysOpenCalendar(WeekdayCalendar):
    """Every day is a business day (the demo's `ALWAYS_OPEN`: it settles on any day, at any hour).
    Never for real money."""

    def __init__(self, timezone: ZoneInfo = NEW_YORK) -> None:
        super().__init__((), timezone)

    def is_session(self, day: date) -> bool:
        return True


def calendar_for(code: str) -> ExchangeTradingCalendar | AlwaysOpenCalendar:
    """`XNYS` (or any exchange_calendars code), or `ALWAYS_OPEN`."""
    if code.upper() == "ALWAYS_OPEN":
        return AlwaysOpenCalendar()
    return ExchangeTradingCalendar(code)
