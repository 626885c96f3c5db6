"""Incoming events (rebal_schemas) -> domain values. Schema validation already ran; what the
domain still refuses raises `DomainError`, which the handlers turn into a dead letter."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from enum import Enum

from rebal_optimizer.domain import (
    ExternalOrder,
    Initiator,
    ModelPortfolio,
    PortfolioSettings,
    Price,
    Prices,
    RebalanceCondition,
    Side,
    Trigger,
    TriggerReason,
    Weight,
)
from rebal_optimizer.domain.allocation import floor_qty
from rebal_schemas import (
    ModelUpdated,
    OptimizationSubmitted,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RunInitiator,
)
from rebal_schemas import RebalanceCondition as WireCondition
from rebal_schemas import Weight as WireWeight
from rebal_schemas.events.portfolio import PLAIN_SETTINGS


def weights(wire: Iterable[WireWeight]) -> tuple[Weight, ...]:
    return tuple(Weight(w.type, w.symbol, w.percent) for w in wire)  # type: ignore[arg-type]


def conditions(wire: Iterable[WireCondition]) -> tuple[RebalanceCondition, ...]:
    return tuple(
        RebalanceCondition(c.type, c.sub_type, c.percent, c.day)  # type: ignore[arg-type]
        for c in wire
    )


def model(event: ModelUpdated) -> ModelPortfolio:
    return ModelPortfolio(
        model_id=event.model_id,
        name=event.name,
        description=event.description,
        status=event.status.value,  # type: ignore[arg-type]
        cooldown_days=event.cooldown_days,
        weights=weights(event.weights),
        rebalance_conditions=conditions(event.rebalance_conditions),
        fallbacks=dict(event.fallbacks),
        revision=event.event_id,
    )


def price(event: PriceUpdated) -> Price:
    return Price(event.price, event.tradable, event.fractionable, event.as_of)


def initiator(initiated_from: RunInitiator) -> Initiator:
    return Initiator.SYSTEM if initiated_from is RunInitiator.system else Initiator.API


def trigger(event: RebalanceRequested) -> Trigger:
    return Trigger(
        TriggerReason(event.reason.value),
        initiator(event.initiated_from),
        run_type=event.run_type.value if event.run_type else None,  # type: ignore[arg-type]
        weights=weights(event.weights or ()),
        amount=event.amount,
        model_id=event.model_id,
    )


def patched_settings(
    current: PortfolioSettings,
    event: PortfolioSettingsChanged,
    skip: frozenset[str] = frozenset(),
) -> PortfolioSettings:
    """Only the fields present in the event change, and a null one does not either (a client
    serializing the whole model sends every field, nulls included), except where null is the
    contract's value: `model_id: null` ends a subscription, `target_weights: null` drops the own
    weights. Following a model and following own weights exclude each other: setting one clears
    the other. `skip`: fields of the event not applied (a refused subscription's `model_id`)."""
    present = event.model_fields_set - skip
    changes: dict[str, object] = {}
    for name in PLAIN_SETTINGS:
        value = getattr(event, name)
        if name in present and value is not None:
            changes[name] = value.value if isinstance(value, Enum) else value
    if "model_id" in present:
        changes["model_id"] = event.model_id
        if event.model_id is not None:
            changes.update(own_weights=(), own_conditions=(), own_cooldown_days=0)
    if "target_weights" in present:
        changes["own_weights"] = weights(event.target_weights or ())
        if event.target_weights is not None:
            changes["model_id"] = None
        else:
            changes.update(own_conditions=(), own_cooldown_days=0)
    return replace(current, **changes)  # type: ignore[arg-type]


def external_orders(event: OptimizationSubmitted, prices: Prices) -> tuple[ExternalOrder, ...]:
    """The domain validates quantities. A notional order is converted at the last price; without
    a usable price it keeps the notional as a placeholder quantity, and validation then refuses
    it for the missing price (never a crash, never a guess that could pass)."""
    orders = []
    for order in event.orders:
        qty = order.qty
        if qty is None:
            assert order.notional is not None  # the schema requires one of qty and notional
            quote = prices.get(order.symbol)
            usable = quote is not None and quote.price > 0
            qty = (
                floor_qty(order.notional, quote.price, False)
                if usable and quote
                else order.notional
            )
        orders.append(ExternalOrder(order.symbol, Side(order.side.value), qty))
    return tuple(orders)
