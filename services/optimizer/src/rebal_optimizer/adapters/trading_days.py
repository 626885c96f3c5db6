"""Trading days for the domain's `TradingDays` port: an exchange (exchange_calendars) or the
always-open demo calendar. Both also say in which time zone "today" is read."""

from __future__ import annotations

import bisect
import warnings
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from rebal_optimizer.domain.trading_days import TradingCalendar

ALWAYS_OPEN = "ALWAYS_OPEN"
"""Calendar code of `AlwaysOpenTradingDays` (demo/test knob, never for real money)."""


class AlwaysOpenTradingDays:
    """Every day is a trading day, read in UTC: the demo and the tests work on any day."""

    def is_trading_day(self, d: date) -> bool:
        return True

    def previous_trading_day(self, d: date) -> date:
        return d - timedelta(days=1)

    def today(self, now: datetime) -> date:
        return now.astimezone(UTC).date()


class ExchangeTradingDays:
    """An exchange_calendars calendar (default XNYS), loaded on first use and cached as a sorted
    tuple of dates, so building the service (e.g. for the AsyncAPI document) stays instant.

    Outside the loaded range (about 20 years back to `years_ahead` ahead) it falls back to
    Monday..Friday: better an approximate day than an optimizer that stops.
    """

    def __init__(self, code: str = "XNYS", years_ahead: int = 3) -> None:
        self.code = code
        self.years_ahead = years_ahead
        self._sessions: tuple[date, ...] = ()
        self._session_set: frozenset[date] = frozenset()
        self._zone: tzinfo | None = None

    def load(self) -> ExchangeTradingDays:
        if self._zone is not None:
            return self
        import exchange_calendars as xcals

        end = datetime.now(UTC).date() + timedelta(days=366 * self.years_ahead)
        with warnings.catch_warnings():
            # exchange_calendars reads Series.values, deprecated by recent pandas; not ours.
            warnings.simplefilter("ignore")
            exchange = xcals.get_calendar(self.code, end=end)
        self._sessions = tuple(ts.date() for ts in exchange.sessions)
        self._session_set = frozenset(self._sessions)
        self._zone = ZoneInfo(str(exchange.tz))
        return self

    def _in_range(self, d: date) -> bool:
        return self._sessions[0] <= d <= self._sessions[-1]

    def is_trading_day(self, d: date) -> bool:
        self.load()
        if not self._in_range(d):
            return d.weekday() < 5
        return d in self._session_set

    def previous_trading_day(self, d: date) -> date:
        self.load()
        index = bisect.bisect_left(self._sessions, d)
        if self._in_range(d) and index > 0:
            return self._sessions[index - 1]
        previous = d - timedelta(days=1)
        while previous.weekday() >= 5:
            previous -= timedelta(days=1)
        return previous

    def today(self, now: datetime) -> date:
        self.load()
        assert self._zone is not None
        return now.astimezone(self._zone).date()


def trading_calendar(code: str) -> TradingCalendar:
    if code == ALWAYS_OPEN:
        return AlwaysOpenTradingDays()
    return ExchangeTradingDays(code)
