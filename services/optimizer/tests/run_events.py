"""The settlement-tracker's run events as the optimizer reads them, built from the optimization
they are the run of: `run.completed` (schema version 2, Alpaca's run object) and `run.settled`.
Shared by the unit and the integration tests (`from ..run_events import completed, settled`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_schemas import (
    OptimizationCreated,
    OptimizationReady,
    PortfolioRunType,
    RunCompleted,
    RunSettled,
    RunType,
)
from rebal_schemas.events.run import RunOrder, SettledTransaction


def completed(
    opt: OptimizationCreated | OptimizationReady,
    *,
    integration: str = "PLATFORM",
    holdings_delta: Mapping[str, Decimal] | None = None,
    cash_delta: Decimal = Decimal(0),
    last_execution_at: datetime | None = None,
    completed_at: datetime | None = None,
    **fields: Any,
) -> RunCompleted:
    """`opt`'s run.completed: every delta an executed order (filled, EXECUTED) in `orders`."""
    delta = dict(holdings_delta or {})
    at = completed_at or last_execution_at or opt.recorded_at
    values: dict[str, Any] = {
        "id": opt.optimization_id,
        "run_id": opt.optimization_id,
        "optimization_id": opt.optimization_id,
        "type": PortfolioRunType.of(RunType(opt.run_type)),
        "status": "COMPLETED_SUCCESS",
        "account_id": opt.account_id,
        "portfolio_id": opt.portfolio_id,
        "created_at": opt.recorded_at,
        "updated_at": at,
        "completed_at": at,
        "broker_integration": integration,
        "orders": tuple(
            RunOrder(
                leg=leg,
                symbol=symbol,
                side="buy" if qty > 0 else "sell",
                filled_qty=abs(qty),
                status="filled",
                filled_at=last_execution_at,
                transaction_status="EXECUTED",
            )
            for leg, (symbol, qty) in enumerate(sorted(delta.items()), start=1)
        ),
        "cash_delta": cash_delta,
        "holdings_delta": delta,
        "last_execution_at": last_execution_at,
        **fields,
    }
    return RunCompleted(**values)


def settled(run: RunCompleted, *, settled_at: datetime | None = None, **fields: Any) -> RunSettled:
    """The run.settled that follows `run`: its transactions SETTLED, the same deltas."""
    values: dict[str, Any] = {
        "run_id": run.run_id,
        "optimization_id": run.optimization_id,
        "portfolio_id": run.portfolio_id,
        "account_id": run.account_id,
        "status": run.status,
        "transactions": tuple(
            SettledTransaction(
                leg=o.leg, symbol=o.symbol, side=o.side, filled_qty=o.filled_qty, status="SETTLED"
            )
            for o in run.orders
        ),
        "cash_delta": run.cash_delta,
        "holdings_delta": run.holdings_delta,
        "last_execution_at": run.last_execution_at,
        "settled_at": settled_at or run.completed_at or run.updated_at,
        **fields,
    }
    return RunSettled(**values)
