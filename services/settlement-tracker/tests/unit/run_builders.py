"""Run builders shared by the Run aggregate's tests: a Friday trade, T+1, two planned legs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rebal_settlement_tracker.adapters.trading_calendar import WeekdayCalendar
from rebal_settlement_tracker.domain import PlannedOrder, Run, SettlementCycles, Side, SkippedOrder

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CALENDAR = WeekdayCalendar()
T1 = SettlementCycles({"us_equity": 1})
SELL_AAPL = PlannedOrder(0, "AAPL", Side.SELL, qty=Decimal(10))
BUY_MSFT = PlannedOrder(1, "MSFT", Side.BUY, qty=Decimal(5))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def planned_run(*orders: PlannedOrder, skipped: tuple[SkippedOrder, ...] = ()) -> Run:
    return Run("O1", "pf-1").plan(
        orders or (SELL_AAPL, BUY_MSFT),
        skipped,
        run_type="full_rebalance",
        broker_integration="PLATFORM",
    )


def fill(run: Run, leg: int, cum: str, price: str, minutes: int = 0, **kw: bool) -> Run:
    return run.record_fill(leg, Decimal(cum), Decimal(price), FRIDAY, at(minutes), **kw)


def settle(run: Run, today: date = MONDAY) -> Run:
    return run.settle_due(today, CALENDAR, T1)[0]
