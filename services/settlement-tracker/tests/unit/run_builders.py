"""Run builders shared by the Run aggregate's tests: a Friday trade, T+1, two planned legs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rebal_runtime.calendar import weekday_calendar
from rebal_settlement_tracker.domain import (
    PlannedOrder,
    Run,
    RunCompletion,
    RunTerms,
    SettlementCycles,
    Side,
    SkippedOrder,
    move_status,
    settle_due,
)

FRIDAY = date(2026, 11, 20)
MONDAY = date(2026, 11, 23)
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
CALENDAR = weekday_calendar()
T1 = SettlementCycles({"us_equity": 1})
SELL_AAPL = PlannedOrder(0, "AAPL", Side.SELL, qty=Decimal(10))
BUY_MSFT = PlannedOrder(1, "MSFT", Side.BUY, qty=Decimal(5))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


TERMS = RunTerms(run_type="full_rebalance", broker_integration="PLATFORM", account_id="a-1")


def planned_run(*orders: PlannedOrder, skipped: tuple[SkippedOrder, ...] = ()) -> Run:
    return Run("O1", "pf-1").plan(orders or (SELL_AAPL, BUY_MSFT), skipped, TERMS, created_at=T0)


def fill(run: Run, leg: int, cum: str, price: str, minutes: int = 0, **kw: bool) -> Run:
    return run.record_fill(leg, Decimal(cum), Decimal(price), FRIDAY, at(minutes), **kw)


def settle(run: Run, today: date = MONDAY) -> Run:
    """Settle what is due, late fills included (as `progress.advance` does)."""
    run = settle_due(run, today, CALENDAR, T1)[0]
    return settle_due(run, today, CALENDAR, T1, late=True)[0]


def complete(run: Run, minutes: int = 600) -> tuple[Run, RunCompletion | None]:
    """Move the run's status as the service does; its completion when it completes now."""
    moved, _, completion = move_status(run, at(minutes))
    return moved, completion
