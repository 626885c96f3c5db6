"""The run events the tracker publishes, from the domain's Run and its reports: run.created and
run.status_changed (Alpaca's run object without orders), run.completed (with its orders),
run.settled, and the request.rejected answering a refused cancel.

Every one carries the same Alpaca run fields, built once here (`run_fields`), and an id derived
from its run and what it says (`messages.event_id_for`). The run's `reason` is cut to what the wire
carries there (`bounded_reason`): the domain words it from what it was told, a cancel request's or
the order-router's reason that may already use the whole limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import rebal_schemas as wire
from rebal_schemas.events.run import CANCEL_REQUESTED, MAX_REASON
from rebal_settlement_tracker import domain
from rebal_settlement_tracker.domain.gains import Gains, order_gains, run_gains
from rebal_settlement_tracker.service_layer.messages import (
    RUN_COMPLETED,
    RUN_CREATED,
    RUN_SETTLED,
    event_id_for,
    status_changed_kind,
)

CANCELED = (domain.RunStatus.CANCELED, domain.RunStatus.CANCELED_MID_RUN)
#: which Alpaca order timestamp tells when an order ended, by its status
_ENDED_AT = {
    domain.OrderStatus.EXPIRED: "expired_at",
    domain.OrderStatus.CANCELED: "canceled_at",
    domain.OrderStatus.REJECTED: "failed_at",
}
CUT = "…"  # ends a reason cut to fit the wire


def bounded_reason(reason: str | None) -> str | None:
    """`reason` as the wire takes it: at most MAX_REASON characters, the cut marked. Said at most
    once per run and change, so a longer reason would make its event unpublishable for good (the
    run never final, its portfolio blocked)."""
    if reason is None or len(reason) <= MAX_REASON:
        return reason
    return reason[: MAX_REASON - len(CUT)] + CUT


def run_fields(
    run: domain.Run,
    status: domain.RunStatus,
    updated_at: datetime,
    reason: str | None = None,
) -> dict[str, Any]:
    """Alpaca's run object without orders, as of a change to `status` at `updated_at`."""
    terms = run.terms
    if terms.run_type is None or terms.broker_integration is None or terms.account_id is None:
        raise ValueError(f"run {run.run_id} has no plan: optimization.ready carries these fields")
    created_at = run.lifecycle.created_at
    return {
        "id": run.run_id,
        "optimization_id": run.run_id,
        "type": wire.PortfolioRunType.of(wire.RunType(terms.run_type)),
        "amount": terms.amount,
        "initiated_from": wire.RunInitiator(terms.initiated_from),
        "status": wire.RunStatus(status.value),
        "reason": bounded_reason(reason),
        "account_id": terms.account_id,
        "portfolio_id": run.portfolio_id,
        "weights": tuple(
            wire.Weight.model_validate({"type": w.kind, "symbol": w.symbol, "percent": w.percent})
            for w in terms.weights
        ),
        "created_at": created_at if created_at is not None else updated_at,
        "updated_at": updated_at,
        "completed_at": updated_at if status.is_final else None,
        "canceled_at": run.canceled_at if status in CANCELED else None,
        "broker_integration": wire.BrokerIntegration(terms.broker_integration),
        "retry_of": terms.retry_of,
    }


def _envelope(run: domain.Run, envelope: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**envelope, "event_id": event_id_for(run.run_id, kind)}


def status_changed(
    run: domain.Run, change: domain.StatusChange, envelope: dict[str, Any]
) -> wire.RunCreated | wire.RunStatusChanged:
    fields = run_fields(run, change.status, change.at, change.reason)
    if change.previous is None:
        return wire.RunCreated(
            **fields, occurred_at=change.at, **_envelope(run, envelope, RUN_CREATED)
        )
    return wire.RunStatusChanged(
        **fields,
        previous_status=wire.RunStatus(change.previous.value),
        occurred_at=change.at,
        **_envelope(run, envelope, status_changed_kind(change.status)),
    )


def run_completed(
    run: domain.Run, completion: domain.RunCompletion, envelope: dict[str, Any]
) -> wire.RunCompleted:
    at = run.lifecycle.completed_at
    if at is None:
        raise ValueError(f"run {run.run_id} has not completed")
    planned = {
        o.leg: (o.estimated_gain, o.qty) for o in run.orders or () if o.estimated_gain is not None
    }
    gains = {o.leg: order_gains(planned, o.leg, o.filled_qty) for o in completion.executed}
    total = run_gains(gains.values())
    return wire.RunCompleted(
        **run_fields(run, completion.status, at, completion.reason),
        run_id=run.run_id,
        orders=tuple(run_order(order, gains.get(order.leg)) for order in completion.executed),
        failed_orders=tuple(run_order(order) for order in completion.failed),
        skipped_orders=tuple(_skipped(skipped) for skipped in completion.skipped_orders),
        cash_delta=completion.cash_delta,
        holdings_delta=dict(completion.holdings_delta),
        last_execution_at=completion.last_execution_at,
        replan=_replan(run),
        realized_gains=_wire_gains(total),
        occurred_at=at,
        **_envelope(run, envelope, RUN_COMPLETED),
    )


def run_settled(
    run: domain.Run, report: domain.RunCompletion, envelope: dict[str, Any]
) -> wire.RunSettled:
    at, status = run.lifecycle.settled_at, run.lifecycle.status
    if at is None or status is None or run.terms.account_id is None:
        raise ValueError(f"run {run.run_id} has not settled")
    return wire.RunSettled(
        run_id=run.run_id,
        optimization_id=run.run_id,
        portfolio_id=run.portfolio_id,
        account_id=run.terms.account_id,
        status=wire.RunStatus(status.value),
        transactions=tuple(
            wire.SettledTransaction(
                leg=order.leg,
                symbol=order.symbol,
                side=wire.OrderSide(order.side.value),
                filled_qty=order.filled_qty,
                status=wire.TransactionStatus(order.status.value),
            )
            for order in report.orders
        ),
        cash_delta=report.cash_delta,
        holdings_delta=dict(report.holdings_delta),
        last_execution_at=report.last_execution_at,
        replan=_replan(run),
        settled_at=at,
        occurred_at=at,
        **_envelope(run, envelope, RUN_SETTLED),
    )


def cancel_rejected(
    request: wire.RunCancelRequested,
    code: wire.RejectionCode,
    message: str,
    account_id: str | None,
    now: datetime,
    producer: str,
) -> wire.RequestRejected:
    """The answer to a refused cancel; `causation_id` names it, so the client finds it."""
    return cancel_refused(
        request.run_id,
        request.portfolio_id,
        request.event_id,
        code,
        message,
        account_id,
        now,
        producer,
    )


def cancel_refused(
    run_id: str,
    portfolio_id: str,
    request_id: str,
    code: wire.RejectionCode,
    message: str,
    account_id: str | None,
    now: datetime,
    producer: str,
) -> wire.RequestRejected:
    """`cancel_rejected` from what a run keeps of the request (its event id), to answer it when
    the run ends. The same id whoever answers: a consumer keeps one answer per request."""
    return wire.RequestRejected(
        reason_code=code,
        message=message,
        request_event_type=CANCEL_REQUESTED,
        portfolio_id=portfolio_id,
        account_id=account_id,
        run_id=run_id,
        occurred_at=now,
        producer=producer,
        causation_id=request_id,
        correlation_id=run_id,
        event_id=event_id_for(run_id, f"request.rejected:{request_id}"),
    )


def run_order(order: domain.OrderOutcome, gains: Gains | None = None) -> wire.RunOrder:
    """One order in Alpaca's order-object shape, its transaction status alongside (and a sale's
    estimated realized gain for what filled)."""
    ended = _ENDED_AT.get(order.order_status)
    return wire.RunOrder(
        id=order.broker_order_id,
        client_order_id=order.client_order_id,
        leg=order.leg,
        symbol=order.symbol,
        side=wire.OrderSide(order.side.value),
        notional=order.planned_notional,
        qty=order.planned_qty,
        filled_qty=order.filled_qty,
        filled_avg_price=order.avg_price,
        status=wire.OrderStatus(order.order_status.value),
        filled_at=order.filled_at,
        updated_at=order.updated_at,
        transaction_status=wire.TransactionStatus(order.status.value),
        reason=order.reason or "",
        realized_gains=_wire_gains(gains),
        **({ended: order.closed_at} if ended else {}),
    )


def _wire_gains(gains: Gains | None) -> wire.RealizedGains | None:
    if gains is None:
        return None
    return wire.RealizedGains(short_term=gains.short_term, long_term=gains.long_term)


def _replan(run: domain.Run) -> bool:
    """Stopped at its start because its prices moved: the optimizer plans the portfolio again."""
    return run.stop is not None and run.stop.replan


def _skipped(skipped: domain.SkippedOrder) -> wire.SkippedOrder:
    return wire.SkippedOrder(
        symbol=skipped.symbol,
        side=wire.OrderSide(skipped.side.value),
        notional=skipped.notional,
        reason=skipped.reason,
        reason_details=skipped.reason_details or "",
    )
