"""Translation between the wire events (`rebal_schemas`) and the pure domain.

Inbound: optimization.ready becomes a plan (PlannedOrder/SkippedOrder of the domain).
Outbound: a settled Transaction becomes `transaction.settled`, a RunCompletion `run.completed`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import rebal_schemas as wire
from rebal_settlement_tracker import domain


def planned_orders(event: wire.OptimizationReady) -> tuple[domain.PlannedOrder, ...]:
    return tuple(
        domain.PlannedOrder(
            leg=order.leg,
            symbol=order.symbol,
            side=domain.Side(order.side.value),
            qty=order.qty,
            notional=order.notional,
            asset_class=order.asset_class,
            expected_price=order.expected_price,
        )
        for order in event.orders
    )


def skipped_orders(event: wire.OptimizationReady) -> tuple[domain.SkippedOrder, ...]:
    return tuple(
        domain.SkippedOrder(
            symbol=skipped.symbol,
            side=domain.Side(skipped.side.value),
            notional=skipped.notional,
            reason=skipped.reason,
            reason_details=skipped.reason_details or None,
        )
        for skipped in event.skipped_orders
    )


def transaction_settled(
    run: domain.Run, tx: domain.Transaction, now: datetime, envelope: dict[str, Any]
) -> wire.TransactionSettled:
    if tx.fill is None or tx.settled_on is None:
        raise ValueError(f"run {run.run_id} leg {tx.leg} is not settled")
    return wire.TransactionSettled(
        run_id=run.run_id,
        portfolio_id=run.portfolio_id,
        leg=tx.leg,
        symbol=tx.symbol,
        side=wire.OrderSide(tx.side.value),
        qty=tx.fill.cum_qty,
        avg_price=tx.fill.avg_price,
        trade_date=tx.fill.trade_date,
        settlement_date=tx.settled_on,
        occurred_at=now,
        **envelope,
    )


def run_completed(
    run: domain.Run, completion: domain.RunCompletion, now: datetime, envelope: dict[str, Any]
) -> wire.RunCompleted:
    # completion exists only for a planned run, and the plan carries all of these
    if run.run_type is None or run.broker_integration is None or run.account_id is None:
        raise ValueError(f"run {run.run_id} completed without the fields of optimization.ready")
    return wire.RunCompleted(
        run_id=run.run_id,
        optimization_id=run.run_id,
        portfolio_id=run.portfolio_id,
        account_id=run.account_id,
        run_type=wire.RunType(run.run_type),
        broker_integration=wire.BrokerIntegration(run.broker_integration),
        status=wire.RunStatus(completion.status.value),
        orders=tuple(_outcome(order) for order in completion.orders),
        skipped_orders=tuple(_skipped(skipped) for skipped in completion.skipped_orders),
        cash_delta=completion.cash_delta,
        holdings_delta=dict(completion.holdings_delta),
        last_execution_at=completion.last_execution_at,
        completed_at=now,
        occurred_at=now,
        **envelope,
    )


def _outcome(order: domain.OrderOutcome) -> wire.OrderOutcome:
    return wire.OrderOutcome(
        leg=order.leg,
        symbol=order.symbol,
        side=wire.OrderSide(order.side.value),
        planned_qty=order.planned_qty,
        planned_notional=order.planned_notional,
        filled_qty=order.filled_qty,
        filled_avg_price=order.avg_price,
        status=wire.TransactionStatus(order.status.value),
        reason=order.reason or "",
    )


def _skipped(skipped: domain.SkippedOrder) -> wire.SkippedOrder:
    return wire.SkippedOrder(
        symbol=skipped.symbol,
        side=wire.OrderSide(skipped.side.value),
        notional=skipped.notional,
        reason=skipped.reason,
        reason_details=skipped.reason_details or "",
    )
