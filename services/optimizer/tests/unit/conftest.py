"""Shared fixtures for the optimizer's pure domain tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_optimizer.domain import Price


class WeekdayCalendar:
    """Trading days are Monday..Friday minus the given holidays."""

    def __init__(self, holidays: frozenset[date] = frozenset()) -> None:
        self.holidays = holidays

    def is_trading_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self.holidays

    def previous_trading_day(self, d: date) -> date:
        d -= timedelta(days=1)
        while not self.is_trading_day(d):
            d -= timedelta(days=1)
        return d


NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday
TODAY = date(2026, 3, 4)
MAX_AGE = timedelta(minutes=15)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def trading_days() -> WeekdayCalendar:
    return WeekdayCalendar()


@pytest.fixture
def quote():
    """quote('AAPL', '100') → a fresh tradable, fractionable Price."""

    def make(price: str, *, tradable: bool = True, fractionable: bool = True,
             age: timedelta = timedelta(0)) -> Price:
        return Price(Decimal(price), tradable, fractionable, NOW - age)

    return make
