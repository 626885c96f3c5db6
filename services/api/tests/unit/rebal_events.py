"""What rebal's optimizer and settlement-tracker publish about a run, as the api reads it."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from rebal_schemas import (
    BrokerIntegration,
    Mandate,
    OptimizationCreated,
    OptimizationReady,
    OptimizationStatus,
    OrderSide,
    OrderStatus,
    PlannedOrder,
    PortfolioRunType,
    RunCompleted,
    RunCreated,
    RunInitiator,
    RunOrder,
    RunSettled,
    RunStatus,
    RunStatusChanged,
    RunType,
    TransactionSettled,
    TransactionStatus,
    TriggerReason,
    Weight,
)

WEIGHTS = (
    Weight(type="asset", symbol="SPY", percent=Decimal(60)),
    Weight(type="cash", percent=Decimal(40)),
)


def _run(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    run_type: RunType,
    at: datetime,
    initiated: RunInitiator,
) -> dict[str, Any]:
    return {
        "id": run_id,
        "optimization_id": run_id,
        "type": PortfolioRunType.of(run_type),
        "initiated_from": initiated,
        "account_id": account_id,
        "portfolio_id": portfolio_id,
        "weights": WEIGHTS,
        "created_at": at,
        "updated_at": at,
        "broker_integration": BrokerIntegration.PLATFORM,
        "producer": "settlement-tracker",
        "occurred_at": at,
    }


def _optimization(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    at: datetime,
    cause: str | None,
    initiated: RunInitiator,
    run_type: RunType,
) -> dict[str, Any]:
    return {
        "optimization_id": run_id,
        "portfolio_id": portfolio_id,
        "account_id": account_id,
        "run_type": run_type,
        "broker_integration": BrokerIntegration.PLATFORM,
        "initiated_from": initiated,
        "weights": WEIGHTS,
        "causation_id": cause,
        "producer": "optimizer",
        "occurred_at": at,
    }


def created(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    at: datetime,
    *,
    cause: str | None = None,
    status: OptimizationStatus = OptimizationStatus.READY,
    initiated: RunInitiator = RunInitiator.system,
    run_type: RunType = RunType.invest_cash,
) -> OptimizationCreated:
    return OptimizationCreated(
        **_optimization(run_id, portfolio_id, account_id, at, cause, initiated, run_type),
        status=status,
        is_recommended=status is not OptimizationStatus.NOT_RECOMMENDED,
        trigger=TriggerReason.manual if initiated is RunInitiator.api else TriggerReason.deposit,
        mandate=Mandate.DISCRETIONARY,
    )


def ready(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    at: datetime,
    *,
    cause: str | None = None,
    initiated: RunInitiator = RunInitiator.system,
    run_type: RunType = RunType.invest_cash,
) -> OptimizationReady:
    return OptimizationReady(
        **_optimization(run_id, portfolio_id, account_id, at, cause, initiated, run_type),
        orders=(PlannedOrder(leg=0, symbol="SPY", side=OrderSide.buy, notional=Decimal("600.00")),),
    )


def queued(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    at: datetime,
    *,
    initiated: RunInitiator = RunInitiator.system,
    run_type: RunType = RunType.invest_cash,
) -> RunCreated:
    return RunCreated(
        status=RunStatus.QUEUED, **_run(run_id, portfolio_id, account_id, run_type, at, initiated)
    )


def ended(run_id: str, portfolio_id: str, account_id: str, at: datetime) -> RunStatusChanged:
    """The final status change the settlement-tracker writes with `completed`'s report."""
    done = at + timedelta(seconds=5)
    fields = _run(run_id, portfolio_id, account_id, RunType.invest_cash, at, RunInitiator.system)
    fields.update(updated_at=done, occurred_at=done)
    return RunStatusChanged(
        status=RunStatus.COMPLETED_SUCCESS,
        previous_status=RunStatus.QUEUED,
        completed_at=done,
        **fields,
    )


def completed(
    run_id: str,
    portfolio_id: str,
    account_id: str,
    at: datetime,
    *,
    initiated: RunInitiator = RunInitiator.system,
    run_type: RunType = RunType.invest_cash,
) -> RunCompleted:
    done = at + timedelta(seconds=5)
    fields = _run(run_id, portfolio_id, account_id, run_type, at, initiated)
    fields.update(updated_at=done, occurred_at=done)
    return RunCompleted(
        status=RunStatus.COMPLETED_SUCCESS,
        run_id=run_id,
        completed_at=done,
        orders=(
            RunOrder(
                id="61e69015-8549-4bfd-b9c3-01e75843f47d",
                client_order_id=f"{run_id}-0",
                leg=0,
                symbol="SPY",
                side=OrderSide.buy,
                notional=Decimal("600.00"),
                filled_qty=Decimal("1.2"),
                filled_avg_price=Decimal("500"),
                status=OrderStatus.filled,
                filled_at=done,
                transaction_status=TransactionStatus.EXECUTED,
            ),
        ),
        cash_delta=Decimal("-600.00"),
        holdings_delta={"SPY": Decimal("1.2")},
        **fields,
    )


def settled(run_id: str, portfolio_id: str, account_id: str, at: datetime) -> RunSettled:
    return RunSettled(
        run_id=run_id,
        optimization_id=run_id,
        portfolio_id=portfolio_id,
        account_id=account_id,
        status=RunStatus.COMPLETED_SUCCESS,
        settled_at=at,
        producer="settlement-tracker",
    )


def leg_settled(run_id: str, portfolio_id: str, at: datetime, days: int = 0) -> TransactionSettled:
    """Leg 0 of `completed` (1.2 SPY at 500) settled `days` after its trade date."""
    return TransactionSettled(
        run_id=run_id,
        portfolio_id=portfolio_id,
        leg=0,
        symbol="SPY",
        side="buy",
        qty="1.2",
        avg_price="500",
        trade_date=at.date(),
        settlement_date=(at + timedelta(days=days)).date(),
    )
