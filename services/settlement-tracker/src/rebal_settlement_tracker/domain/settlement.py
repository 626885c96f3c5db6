"""Settlement date = trade date + N sessions of a trading calendar (T+1 default, T+0 allowed)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable


@runtime_checkable
class TradingCalendar(Protocol):
    """Business days of an exchange; the bootstrap passes the runtime's (`rebal_runtime.calendar`).
    A day outside its data raises a ``LookupError``."""

    def is_session(self, day: date) -> bool:
        """True when the exchange trades on ``day``."""
        ...

    def next_session(self, day: date) -> date:
        """The first session strictly after ``day``."""
        ...

    def add_sessions(self, day: date, count: int) -> date:
        """The ``count``-th session strictly after ``day`` (``count`` >= 1)."""
        ...


@dataclass(frozen=True)
class SettlementCycles:
    """Settlement cycle in sessions per asset class, e.g. ``{"us_equity": 1}``; T+1 otherwise."""

    by_asset_class: Mapping[str, int] = field(default_factory=dict)
    default_days: int = 1

    def __post_init__(self) -> None:
        for name, days in {**self.by_asset_class, "<default>": self.default_days}.items():
            if days < 0:
                raise ValueError(f"settlement cycle of {name} must be >= 0, got {days}")

    def days_for(self, asset_class: str) -> int:
        return self.by_asset_class.get(asset_class, self.default_days)


def settlement_date(trade_date: date, days: int, calendar: TradingCalendar) -> date:
    """The day a trade of ``trade_date`` settles under a T+``days`` cycle.

    A trade date that is not a session (a fill booked on a weekend or holiday) counts from the
    next session, which is when the exchange would book it: T+0 gives that session, T+1 the one
    after it.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    effective = trade_date if calendar.is_session(trade_date) else calendar.next_session(trade_date)
    if days == 0:
        return effective
    return calendar.add_sessions(effective, days)
