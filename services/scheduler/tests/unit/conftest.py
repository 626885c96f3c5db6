"""The real XNYS calendar (the runtime's, from exchange_calendars), shared by the unit tests."""

from __future__ import annotations

from datetime import date

import pytest

from rebal_runtime.calendar import ExchangeCalendar


@pytest.fixture(scope="session")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS", start=date(2024, 1, 1), end=date(2029, 12, 31))
