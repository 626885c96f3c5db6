"""Domain results -> the events the optimizer publishes (rebal_schemas), with deterministic ids.

Every id here is derived from the input that caused it, so handling the same input again (after
a crash, a redelivery or a store restore) produces byte-identical events that consumers dedupe.

Orders on the wire: sells by `qty` (never sell more than held); buys by `notional` when the
quantity is fractional (a notional buy never spends more than planned if the price moves), by
`qty` when it is a whole number of shares (non-fractionable assets or fractional trading off).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_optimizer.domain import ConditionEvaluation as DomainCondition
from rebal_optimizer.domain import Optimization, Order, Side, StatusChange
from rebal_optimizer.domain import Reason as DomainReason
from rebal_optimizer.domain import SkippedOrder as DomainSkipped
from rebal_optimizer.domain import Weight as DomainWeight
from rebal_optimizer.service_layer.tax_lots import listed_lots, wire_gain
from rebal_schemas import (
    BrokerIntegration,
    ConditionEvaluation,
    ConsumedLot,
    Event,
    Mandate,
    ModelStatus,
    ModelStatusChanged,
    OptimizationCreated,
    OptimizationReady,
    OptimizationStatus,
    OptimizationStatusChanged,
    OptimizerMode,
    OrderSide,
    OwnerChoice,
    PlannedOrder,
    Reason,
    RunInitiator,
    RunType,
    SkippedOrder,
    TriggerReason,
    Weight,
)

MAX_ID = 128
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def derived_id(*parts: str) -> str:
    """`a/b/c`, or a digest of it when that would exceed the 128 characters an id may have."""
    joined = "/".join(parts)
    if len(joined) <= MAX_ID:
        return joined
    return "h-" + hashlib.sha256(joined.encode()).hexdigest()


def optimization_id_for(cause_event_id: str, portfolio_id: str) -> str:
    """InvestSuite's shape (`O` + 26 Crockford base32 characters), derived from the cause."""
    digest = hashlib.sha256(f"{portfolio_id}/{cause_event_id}".encode()).digest()
    return "O" + base64.b32encode(digest).decode().translate(_CROCKFORD)[:26]


# -- shapes -------------------------------------------------------------------------------------


def wire_weights(weights: Iterable[DomainWeight]) -> tuple[Weight, ...]:
    return tuple(Weight(type=str(w.type), symbol=w.symbol, percent=w.percent) for w in weights)


def wire_reason(r: DomainReason) -> Reason:
    detail = f"{r.symbol}: {r.detail}" if r.symbol and r.detail else (r.symbol or r.detail)
    return Reason(code=r.code, detail=detail)


def wire_decision(record: Iterable[DomainCondition]) -> tuple[ConditionEvaluation, ...]:
    def text(value: str | Decimal | None) -> str | None:
        if value is None:
            return None
        return format(value, "f") if isinstance(value, Decimal) else str(value)

    return tuple(
        ConditionEvaluation(
            name=c.name,
            met=c.met,
            value=text(c.value),
            threshold=text(c.threshold),
            detail=c.detail,
        )
        for c in record
    )


def planned_orders(orders: Sequence[Order]) -> tuple[PlannedOrder, ...]:
    lots = listed_lots(orders)
    return tuple(planned_order(o, lots.get(o.leg, ())) for o in orders)


def planned_order(o: Order, lots: tuple[ConsumedLot, ...] = ()) -> PlannedOrder:
    side = OrderSide(str(o.side))
    by_notional = Side(o.side) is Side.BUY and o.qty != o.qty.to_integral_value() and o.notional > 0
    return PlannedOrder(
        leg=o.leg,
        symbol=o.symbol,
        side=side,
        qty=None if by_notional else o.qty,
        notional=o.notional if by_notional else None,
        expected_price=o.expected_price,
        lots=lots,
        estimated_gain=wire_gain(o.gain),
    )


def wire_skipped(skipped: Iterable[DomainSkipped]) -> tuple[SkippedOrder, ...]:
    return tuple(
        SkippedOrder(
            symbol=s.symbol,
            side=OrderSide(str(s.side)),
            notional=max(s.notional, Decimal(0)),
            reason=s.reason,
            reason_details=s.reason_details,
        )
        for s in skipped
    )


def _positive(amount: Decimal | None) -> Decimal | None:
    return amount if amount is not None and amount > 0 else None


# -- events -------------------------------------------------------------------------------------


def optimization_created(
    opt: Optimization,
    *,
    account_id: str,
    broker_integration: str,
    source: OptimizerMode,
    initiated_from: RunInitiator,
    cause: Event,
    producer: str,
    expires_at: datetime | None = None,
    extra_reasons: Sequence[Reason] = (),
) -> OptimizationCreated:
    withdrawal = str(opt.run_type) == RunType.withdrawal
    return OptimizationCreated(
        event_id=derived_id(opt.optimization_id, "created"),
        optimization_id=opt.optimization_id,
        portfolio_id=opt.portfolio_id,
        account_id=account_id,
        run_type=RunType(str(opt.run_type)),
        status=OptimizationStatus(str(opt.status)),
        is_recommended=opt.is_recommended,
        trigger=TriggerReason(str(opt.trigger)),
        initiated_from=initiated_from,
        source=source,
        mandate=Mandate(str(opt.mandate)),
        broker_integration=BrokerIntegration(broker_integration),
        weights=wire_weights(opt.weights),
        orders=planned_orders(opt.orders),
        skipped_orders=wire_skipped(opt.skipped_orders),
        decision=wire_decision(opt.decision),
        reasons=(*(wire_reason(r) for r in opt.reasons), *extra_reasons),
        amount=_positive(opt.amount),
        shortfall=opt.shortfall if withdrawal else None,
        expires_at=expires_at,
        retry_of=opt.retry_of,
        **cause.caused(producer=producer, correlation_id=opt.optimization_id),
    )


def optimization_ready(
    opt: Optimization,
    *,
    account_id: str,
    broker_integration: str,
    initiated_from: RunInitiator,
    cause: Event,
    producer: str,
) -> OptimizationReady:
    return OptimizationReady(
        event_id=derived_id(opt.optimization_id, "ready"),
        optimization_id=opt.optimization_id,
        portfolio_id=opt.portfolio_id,
        account_id=account_id,
        run_type=RunType(str(opt.run_type)),
        broker_integration=BrokerIntegration(broker_integration),
        initiated_from=initiated_from,
        orders=planned_orders(opt.orders),
        skipped_orders=wire_skipped(opt.skipped_orders),
        weights=wire_weights(opt.weights),
        amount=_positive(opt.amount),
        retry_of=opt.retry_of,
        **cause.caused(producer=producer, correlation_id=opt.optimization_id),
    )


def status_changed(
    opt: Optimization,
    *,
    cause: Event | None,
    producer: str,
    owner_choice: OwnerChoice | None = None,
    detail: str = "",
) -> OptimizationStatusChanged:
    envelope: dict[str, Any] = (
        cause.caused(producer=producer, correlation_id=opt.optimization_id)
        if cause is not None
        else {"producer": producer, "correlation_id": opt.optimization_id}
    )
    return OptimizationStatusChanged(
        event_id=derived_id(opt.optimization_id, str(opt.status)),
        optimization_id=opt.optimization_id,
        portfolio_id=opt.portfolio_id,
        status=OptimizationStatus(str(opt.status)),
        owner_choice=owner_choice,
        detail=detail,
        **envelope,
    )


def not_recommended(
    *,
    optimization_id: str,
    portfolio_id: str,
    account_id: str,
    mandate: str,
    broker_integration: str,
    run_type: RunType,
    trigger: TriggerReason,
    initiated_from: RunInitiator,
    source: OptimizerMode,
    decision: Iterable[DomainCondition],
    reasons: Sequence[Reason],
    cause: Event,
    producer: str,
    orders: Sequence[PlannedOrder] = (),
) -> OptimizationCreated:
    """The answer to an explicit request (manual run, external submission, owner's REOPTIMIZE)
    that produced no optimization: NOT_RECOMMENDED with the reason, never silence."""
    return OptimizationCreated(
        event_id=derived_id(optimization_id, "created"),
        optimization_id=optimization_id,
        portfolio_id=portfolio_id,
        account_id=account_id,
        run_type=run_type,
        status=OptimizationStatus.NOT_RECOMMENDED,
        is_recommended=False,
        trigger=trigger,
        initiated_from=initiated_from,
        source=source,
        mandate=Mandate(mandate),
        broker_integration=BrokerIntegration(broker_integration),
        orders=tuple(orders),
        decision=wire_decision(decision),
        reasons=tuple(reasons),
        **cause.caused(producer=producer, correlation_id=optimization_id),
    )


def model_status_changed(
    change: StatusChange, *, cause_id: str, producer: str, correlation_id: str | None = None
) -> ModelStatusChanged:
    """Id derived from the cause and the model: the same cause changes a model once."""
    return ModelStatusChanged(
        event_id=derived_id(cause_id, change.model_id, "status", str(change.status)),
        model_id=change.model_id,
        status=ModelStatus(str(change.status)),
        previous_status=ModelStatus(str(change.previous)),
        reason=change.reason[:1024],
        symbols=change.symbols,
        fallbacks=dict(change.fallbacks),
        causation_id=cause_id,
        correlation_id=correlation_id,
        producer=producer,
    )
