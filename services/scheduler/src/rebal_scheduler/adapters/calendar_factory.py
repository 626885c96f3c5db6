"""Build the TradingCalendar the settings name: an exchange, or the always-open demo calendar."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from rebal_scheduler.domain.trading_calendar import TradingCalendar

ALWAYS_OPEN = "ALWAYS_OPEN"
"""Calendar code of :class:`AlwaysOpenCalendar` (a test/demo knob, never for real money)."""


class AlwaysOpenCalendar:
    """Every day is a session that closes at the next midnight in ``timezone``.

    Exists so a scheduler on the real clock produces slots at any hour and on
    weekends: demos and the end-to-end tests run it with a trading window of
    00:00-23:59:59 and a sweep every few seconds.
    """

    def __init__(self, timezone: tzinfo = UTC) -> None:
        self._timezone = timezone

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def is_session(self, day: date) -> bool:
        return True

    def previous_session(self, day: date) -> date:
        return day - timedelta(days=1)

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        return tuple(start + timedelta(days=n) for n in range((end - start).days + 1))

    def session_close(self, day: date) -> datetime:
        next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._timezone)
        return next_midnight.astimezone(UTC)


class ZonedCalendar:
    """An exchange's sessions with the times of day read in another zone.

    Only for deployments that want the nightly batch on their own wall clock;
    sessions and closes stay the exchange's.
    """

    def __init__(self, calendar: TradingCalendar, timezone: tzinfo) -> None:
        self._calendar = calendar
        self._timezone = timezone

    @property
    def timezone(self) -> tzinfo:
        return self._timezone

    def is_session(self, day: date) -> bool:
        return self._calendar.is_session(day)

    def previous_session(self, day: date) -> date:
        return self._calendar.previous_session(day)

    def sessions_in_range(self, start: date, end: date) -> Sequence[date]:
        return self._calendar.sessions_in_range(start, end)

    def session_close(self, day: date) -> datetime:
        return self._calendar.session_close(day)


def trading_calendar(code: str, timezone: str | None = None) -> TradingCalendar:
    """``code`` is an exchange_calendars code (``XNYS``) or :data:`ALWAYS_OPEN`;
    ``timezone`` (IANA name) overrides the zone the times of day are read in."""
    zone = ZoneInfo(timezone) if timezone else None
    if code == ALWAYS_OPEN:
        return AlwaysOpenCalendar(zone or UTC)
    # Imported here: loading exchange_calendars (pandas) takes a moment that the
    # always-open demo calendar does not need.
    from rebal_scheduler.adapters.trading_calendar import ExchangeTradingCalendar

    exchange = ExchangeTradingCalendar(code)
    return ZonedCalendar(exchange, zone) if zone else exchange
