"""The trading calendar as the domain sees it: a port the caller implements (exchange_calendars
in the service, a set of dates in tests). The domain never decides what day it is."""

from __future__ import annotations

from datetime import date, datetime
from typing import Protocol


class TradingDays(Protocol):
    def is_trading_day(self, d: date) -> bool: ...

    def previous_trading_day(self, d: date) -> date: ...


class TradingCalendar(TradingDays, Protocol):
    """`TradingDays` plus the exchange's local date of an instant (what "today" is)."""

    def today(self, now: datetime) -> date: ...


def trading_day_of(today: date, trading_days: TradingDays) -> date:
    """The trading day an evaluation on `today` counts against: a weekend or holiday evaluation
    belongs to the previous trading day, so it cannot add a second automatic run."""
    return today if trading_days.is_trading_day(today) else trading_days.previous_trading_day(today)
