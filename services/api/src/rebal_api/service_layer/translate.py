"""rebal's wire events (`rebal_schemas`) as the facts the pure domain merges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from enum import Enum
from typing import Any

import rebal_schemas as wire
from rebal_api.domain.catalog import ModelFacts, SettingsFacts
from rebal_api.domain.optimizations import EvaluationView, OptimizationView, ReasonView
from rebal_api.domain.runs import RunFacts
from rebal_api.domain.views import (
    ConditionView,
    LegView,
    OrderView,
    PlannedView,
    SkippedView,
    WeightView,
)
from rebal_schemas.events.portfolio import PATCHABLE_SETTINGS


def weights(items: Iterable[wire.Weight]) -> tuple[WeightView, ...]:
    return tuple(WeightView(w.type, w.symbol, w.percent) for w in items)


def conditions(items: Iterable[wire.RebalanceCondition]) -> tuple[ConditionView, ...]:
    return tuple(ConditionView(c.type, c.sub_type, c.percent, c.day) for c in items)


def model_facts(event: wire.ModelUpdated) -> ModelFacts:
    return ModelFacts(
        model_id=event.model_id,
        name=event.name,
        description=event.description,
        status=event.status.value,
        cooldown_days=event.cooldown_days,
        weights=weights(event.weights),
        conditions=conditions(event.rebalance_conditions),
    )


def settings_facts(event: wire.PortfolioSettingsChanged) -> SettingsFacts:
    """As the optimizer reads it: a field the event names (null included) changes."""
    present = event.model_fields_set
    return SettingsFacts(
        portfolio_id=event.portfolio_id,
        account_id=event.account_id,
        model_set="model_id" in present,
        model_id=event.model_id,
        weights_set="target_weights" in present,
        has_weights=event.target_weights is not None,
    )


def order_view(order: wire.RunOrder) -> OrderView:
    return OrderView(
        leg=order.leg,
        symbol=order.symbol,
        side=order.side.value,
        status=order.status.value,
        filled_qty=order.filled_qty,
        broker_id=order.id,
        client_order_id=order.client_order_id,
        notional=order.notional,
        qty=order.qty,
        filled_avg_price=order.filled_avg_price,
        filled_at=order.filled_at,
        expired_at=order.expired_at,
        canceled_at=order.canceled_at,
        failed_at=order.failed_at,
        updated_at=order.updated_at,
        transaction_status=order.transaction_status.value,
    )


def planned_views(items: Iterable[wire.PlannedOrder]) -> tuple[PlannedView, ...]:
    return tuple(
        PlannedView(o.leg, o.symbol, o.side.value, o.qty, o.notional, o.expected_price)
        for o in items
    )


def skipped_views(items: Iterable[wire.SkippedOrder]) -> tuple[SkippedView, ...]:
    return tuple(
        SkippedView(s.symbol, s.side.value, s.notional, s.currency, s.reason, s.reason_details)
        for s in items
    )


def run_fields_facts(event: wire.RunFields, at: datetime, uuid: str | None) -> RunFacts:
    """Alpaca's run object of run.status_changed / run.completed."""
    return RunFacts(
        run_id=event.id,
        portfolio_id=event.portfolio_id,
        account_id=event.account_id,
        at=at,
        type=event.type.value,
        initiated_from=event.initiated_from.value,
        uuid=uuid,
        status=event.status.value,
        amount=event.amount,
        reason=event.reason,
        weights=weights(event.weights) or None,
        created_at=event.created_at,
        updated_at=event.updated_at,
        completed_at=event.completed_at,
        canceled_at=event.canceled_at,
    )


def completed_facts(event: wire.RunCompleted, at: datetime, uuid: str | None) -> RunFacts:
    return replace(
        run_fields_facts(event, at, uuid),
        orders=tuple(order_view(o) for o in event.orders),
        failed_orders=tuple(order_view(o) for o in event.failed_orders),
        skipped_orders=skipped_views(event.skipped_orders),
    )


def ready_facts(
    event: wire.OptimizationReady | wire.OptimizationCreated, uuid: str | None
) -> RunFacts:
    """A run exists from the optimizer's READY optimization on (QUEUED until it executes)."""
    return RunFacts(
        run_id=event.optimization_id,
        portfolio_id=event.portfolio_id,
        account_id=event.account_id,
        at=event.occurred_at,
        type=wire.PortfolioRunType.of(event.run_type).value,
        initiated_from=event.initiated_from.value,
        uuid=uuid,
        amount=event.amount,
        weights=weights(event.weights) or None,
        created_at=event.occurred_at,
        skipped_orders=skipped_views(event.skipped_orders),
        planned=planned_views(event.orders),
    )


def settled_facts(event: wire.RunSettled, uuid: str | None) -> RunFacts:
    return RunFacts(
        run_id=event.run_id,
        portfolio_id=event.portfolio_id,
        account_id=event.account_id,
        at=event.settled_at,
        uuid=uuid,
        status=event.status.value,
        settled_at=event.settled_at,
        legs=tuple(
            LegView(t.leg, t.status.value, settled_at=event.settled_at) for t in event.transactions
        ),
    )


def leg_settled(event: wire.TransactionSettled) -> LegView:
    return LegView(
        event.leg, "SETTLED", event.trade_date, event.settlement_date, settled_at=event.occurred_at
    )


def reasons_text(reasons: Iterable[wire.Reason]) -> str:
    return "; ".join(f"{r.code}: {r.detail}" if r.detail else r.code for r in reasons) or (
        "not recommended"
    )


def settings_present(event: wire.PortfolioSettingsChanged) -> dict[str, Any]:
    """The settings fields the event names (null included), as plain values."""
    present: dict[str, Any] = {}
    for name in PATCHABLE_SETTINGS:
        if name not in event.model_fields_set:
            continue
        value = getattr(event, name)
        if name == "target_weights":
            value = None if value is None else weights(value)
        elif isinstance(value, Enum):
            value = value.value
        present[name] = value
    return present


def optimization_view(event: wire.OptimizationCreated) -> OptimizationView:
    return OptimizationView(
        optimization_id=event.optimization_id,
        portfolio_id=event.portfolio_id,
        account_id=event.account_id,
        status=event.status.value,
        is_recommended=event.is_recommended,
        run_type=event.run_type.value,
        trigger=event.trigger.value,
        initiated_from=event.initiated_from.value,
        source=event.source.value,
        mandate=event.mandate.value,
        broker_integration=event.broker_integration.value,
        created_at=event.occurred_at,
        updated_at=event.occurred_at,
        weights=weights(event.weights),
        orders=planned_views(event.orders),
        skipped_orders=skipped_views(event.skipped_orders),
        decision=tuple(
            EvaluationView(d.name, d.met, d.value, d.threshold, d.detail) for d in event.decision
        ),
        reasons=tuple(ReasonView(r.code, r.detail) for r in event.reasons),
        amount=event.amount,
        shortfall=event.shortfall,
        expires_at=event.expires_at,
    )
