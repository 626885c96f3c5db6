"""Shared calendars: the real XNYS calendar (exchange_calendars) and a hand-built
in-memory one with the published 2026 NYSE holidays."""

from __future__ import annotations

from datetime import date, time

import pytest

from rebal_scheduler.adapters.trading_calendar import (
    ExchangeTradingCalendar,
    InMemoryTradingCalendar,
)

# NYSE 2026 holidays as published by the exchange (and 2027-01-01, which rules
# that roll back from New Year's Day 2027 need).
NYSE_HOLIDAYS_2026 = frozenset(
    {
        date(2026, 1, 1),  # New Year's Day
        date(2026, 1, 19),  # Martin Luther King Jr. Day
        date(2026, 2, 16),  # Washington's Birthday
        date(2026, 4, 3),  # Good Friday
        date(2026, 5, 25),  # Memorial Day
        date(2026, 6, 19),  # Juneteenth
        date(2026, 7, 3),  # Independence Day (observed; July 4 is a Saturday)
        date(2026, 9, 7),  # Labor Day
        date(2026, 11, 26),  # Thanksgiving
        date(2026, 12, 25),  # Christmas
        date(2027, 1, 1),  # New Year's Day 2027
    }
)
NYSE_EARLY_CLOSES_2026 = {date(2026, 11, 27): time(13, 0), date(2026, 12, 24): time(13, 0)}


@pytest.fixture(scope="session")
def xnys() -> ExchangeTradingCalendar:
    return ExchangeTradingCalendar("XNYS", start=date(2024, 1, 1), end=date(2029, 12, 31))


@pytest.fixture(scope="session")
def nyse_2026_in_memory() -> InMemoryTradingCalendar:
    return InMemoryTradingCalendar(NYSE_HOLIDAYS_2026, NYSE_EARLY_CLOSES_2026)
