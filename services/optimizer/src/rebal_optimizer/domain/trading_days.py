"""The trading calendar as the domain sees it: a port the caller implements (the runtime's
`rebal_runtime.calendar` in the service, a weekday calendar in tests). The domain never decides
what day it is."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol


class TradingDays(Protocol):
    def is_session(self, day: date) -> bool: ...

    def previous_session(self, day: date) -> date: ...


class TradingCalendar(TradingDays, Protocol):
    """`TradingDays` plus the market's date of an instant (what "today" is)."""

    def today(self, now: datetime) -> date: ...


def trading_day_of(today: date, trading_days: TradingDays) -> date:
    """The trading day an evaluation on `today` counts against: a weekend or holiday evaluation
    belongs to the previous trading day, so it cannot add a second automatic run. A day beyond
    the calendar's data (a `LookupError`) counts Monday..Friday: better an approximate day than
    an optimizer that stops."""
    try:
        return today if trading_days.is_session(today) else trading_days.previous_session(today)
    except LookupError:
        while today.weekday() >= 5:
            today -= timedelta(days=1)
        return today
