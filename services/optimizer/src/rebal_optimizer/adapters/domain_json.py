"""Domain objects <-> JSON-able dicts for the store. Decimals travel as strings (exact), instants
as ISO-8601 strings, enums as their wire values."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rebal_optimizer.adapters.lots_json import sale_json, sale_of
from rebal_optimizer.domain import (
    ConditionEvaluation,
    Initiator,
    Mandate,
    ModelPortfolio,
    Optimization,
    OptimizationStatus,
    Order,
    PortfolioSettings,
    Price,
    Reason,
    RebalanceCondition,
    RunType,
    Side,
    SkippedOrder,
    Trigger,
    TriggerReason,
    Waiting,
    Weight,
)

Json = dict[str, Any]


def dec(value: Decimal) -> str:
    return format(value, "f")


def opt_dec(value: Decimal | None) -> str | None:
    return None if value is None else dec(value)


def to_dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def to_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def to_date(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


# -- weights, conditions, models ------------------------------------------------------------------


def weight_json(w: Weight) -> Json:
    return {"type": str(w.type), "symbol": w.symbol, "percent": dec(w.percent)}


def weight_of(d: Json) -> Weight:
    return Weight(d["type"], d.get("symbol"), Decimal(d["percent"]))


def condition_json(c: RebalanceCondition) -> Json:
    return {
        "type": str(c.type),
        "sub_type": str(c.sub_type),
        "percent": opt_dec(c.percent),
        "day": c.day,
    }


def condition_of(d: Json) -> RebalanceCondition:
    return RebalanceCondition(d["type"], d["sub_type"], to_dec(d.get("percent")), d.get("day"))


def model_json(m: ModelPortfolio) -> Json:
    return {
        "model_id": m.model_id,
        "name": m.name,
        "description": m.description,
        "status": str(m.status),
        "cooldown_days": m.cooldown_days,
        "weights": [weight_json(w) for w in m.weights],
        "rebalance_conditions": [condition_json(c) for c in m.rebalance_conditions],
        "fallbacks": dict(m.fallbacks),
        "non_tradable": list(m.ineligible),
        "revision": m.revision,
    }


def model_of(d: Json) -> ModelPortfolio:
    return ModelPortfolio(
        model_id=d["model_id"],
        name=d["name"],
        description=d.get("description", ""),
        status=d["status"],
        cooldown_days=d.get("cooldown_days", 0),
        weights=tuple(weight_of(w) for w in d["weights"]),
        rebalance_conditions=tuple(condition_of(c) for c in d.get("rebalance_conditions", ())),
        fallbacks=d.get("fallbacks", {}),
        ineligible=tuple(d.get("non_tradable", ())),
        revision=d.get("revision", ""),
    )


# -- settings and prices --------------------------------------------------------------------------


def settings_json(s: PortfolioSettings) -> Json:
    return {
        "mandate": str(s.mandate),
        "broker_integration": str(s.broker_integration),
        "optimizer": str(s.optimizer),
        "model_id": s.model_id,
        "own_weights": [weight_json(w) for w in s.own_weights],
        "own_conditions": [condition_json(c) for c in s.own_conditions],
        "own_cooldown_days": s.own_cooldown_days,
        "fractional_trading": s.fractional_trading,
        "min_order_notional": dec(s.min_order_notional),
        "cash_buffer_percent": dec(s.cash_buffer_percent),
        "invest_cash_threshold": dec(s.invest_cash_threshold),
        "active": s.active,
        "rebalance_to": str(s.rebalance_to),
        "band_edge_margin_percent": dec(s.band_edge_margin_percent),
        "lot_policy": str(s.lot_policy),
        "wash_sale_guard": str(s.wash_sale_guard),
        "commission_per_order": dec(s.commission_per_order),
        "spread_bps": dec(s.spread_bps),
        "spread_bps_by_symbol": {symbol: dec(bps) for symbol, bps in s.spread_bps_by_symbol},
        "cost_gate_threshold": dec(s.cost_gate_threshold),
        "carry_forward_skipped": s.carry_forward_skipped,
        "max_order_retries": s.max_order_retries,
    }


def settings_of(d: Json) -> PortfolioSettings:
    return PortfolioSettings(
        mandate=d["mandate"],
        broker_integration=d["broker_integration"],
        optimizer=d["optimizer"],
        model_id=d.get("model_id"),
        own_weights=tuple(weight_of(w) for w in d.get("own_weights", ())),
        own_conditions=tuple(condition_of(c) for c in d.get("own_conditions", ())),
        own_cooldown_days=d.get("own_cooldown_days", 0),
        fractional_trading=d["fractional_trading"],
        min_order_notional=Decimal(d["min_order_notional"]),
        cash_buffer_percent=Decimal(d["cash_buffer_percent"]),
        invest_cash_threshold=Decimal(d["invest_cash_threshold"]),
        active=d["active"],
        rebalance_to=d.get("rebalance_to", "target"),  # a document older than the setting
        band_edge_margin_percent=Decimal(d.get("band_edge_margin_percent", "20")),
        lot_policy=d.get("lot_policy", "fifo"),
        wash_sale_guard=d.get("wash_sale_guard", "off"),
        # documents older than the cost gate and carry-forward: both off
        commission_per_order=Decimal(d.get("commission_per_order", "0")),
        spread_bps=Decimal(d.get("spread_bps", "0")),
        spread_bps_by_symbol=tuple(
            (symbol, Decimal(bps)) for symbol, bps in d.get("spread_bps_by_symbol", {}).items()
        ),
        cost_gate_threshold=Decimal(d.get("cost_gate_threshold", "0")),
        carry_forward_skipped=d.get("carry_forward_skipped", False),
        max_order_retries=d.get("max_order_retries", 0),
    )


def trigger_json(t: Trigger) -> Json:
    return {
        "reason": str(t.reason),
        "initiated_from": str(t.initiated_from),
        "run_type": str(t.run_type) if t.run_type else None,
        "weights": [weight_json(x) for x in t.weights],
        "amount": opt_dec(t.amount),
        "model_id": t.model_id,
    }


def trigger_of(t: Json) -> Trigger:
    return Trigger(
        TriggerReason(t["reason"]),
        Initiator(t["initiated_from"]),
        run_type=RunType(t["run_type"]) if t.get("run_type") else None,
        weights=tuple(weight_of(x) for x in t.get("weights", ())),
        amount=to_dec(t.get("amount")),
        model_id=t.get("model_id"),
    )


def waiting_json(w: Waiting | None) -> Json | None:
    if w is None:
        return None
    return {"kind": w.kind, "key": w.key, "trigger": trigger_json(w.trigger)}


def waiting_of(d: Json | None) -> Waiting | None:
    if d is None:
        return None
    return Waiting(d["kind"], d["key"], trigger_of(d["trigger"]))


def price_json(p: Price) -> Json:
    return {
        "price": dec(p.price),
        "tradable": p.tradable,
        "fractionable": p.fractionable,
        "as_of": p.as_of.isoformat(),
    }


def price_of(d: Json) -> Price:
    return Price(
        Decimal(d["price"]), d["tradable"], d["fractionable"], datetime.fromisoformat(d["as_of"])
    )


# -- optimizations --------------------------------------------------------------------------------


def _text(value: str | Decimal | None) -> str | None:
    if value is None:
        return None
    return dec(value) if isinstance(value, Decimal) else str(value)


def condition_evaluation_json(c: ConditionEvaluation) -> Json:
    return {
        "name": c.name,
        "met": c.met,
        "value": _text(c.value),
        "threshold": _text(c.threshold),
        "detail": c.detail,
    }


def condition_evaluation_of(d: Json) -> ConditionEvaluation:
    return ConditionEvaluation(
        d["name"], d["met"], d.get("value"), d.get("threshold"), d.get("detail", "")
    )


def optimization_json(o: Optimization) -> Json:
    return {
        "optimization_id": o.optimization_id,
        "portfolio_id": o.portfolio_id,
        "run_type": str(o.run_type),
        "trigger": str(o.trigger),
        "initiated_from": str(o.initiated_from),
        "mandate": str(o.mandate),
        "is_recommended": o.is_recommended,
        "orders": [
            {
                "leg": x.leg,
                "symbol": x.symbol,
                "side": str(x.side),
                "qty": dec(x.qty),
                "notional": dec(x.notional),
                "expected_price": dec(x.expected_price),
                **sale_json(x.lots, x.gain),
            }
            for x in o.orders
        ],
        "skipped_orders": [
            {
                "symbol": s.symbol,
                "side": str(s.side),
                "notional": dec(s.notional),
                "reason": s.reason,
                "reason_details": s.reason_details,
                "currency": s.currency,
            }
            for s in o.skipped_orders
        ],
        "reasons": [{"code": r.code, "symbol": r.symbol, "detail": r.detail} for r in o.reasons],
        "decision": [condition_evaluation_json(c) for c in o.decision],
        "weights": [weight_json(w) for w in o.weights],
        "created_at": o.created_at.isoformat(),
        "status": str(o.status),
        "status_changed_at": iso(o.status_changed_at),
        "model_id": o.model_id,
        "amount": opt_dec(o.amount),
        "shortfall": dec(o.shortfall),
        "retry_of": o.retry_of,
    }


def optimization_of(d: Json) -> Optimization:
    return Optimization(
        optimization_id=d["optimization_id"],
        portfolio_id=d["portfolio_id"],
        run_type=RunType(d["run_type"]),
        trigger=TriggerReason(d["trigger"]),
        initiated_from=Initiator(d["initiated_from"]),
        mandate=Mandate(d["mandate"]),
        is_recommended=d["is_recommended"],
        orders=tuple(
            Order(
                x["leg"],
                x["symbol"],
                Side(x["side"]),
                Decimal(x["qty"]),
                Decimal(x["notional"]),
                Decimal(x["expected_price"]),
                *sale_of(x),
            )
            for x in d["orders"]
        ),
        skipped_orders=tuple(
            SkippedOrder(
                s["symbol"],
                Side(s["side"]),
                Decimal(s["notional"]),
                s["reason"],
                s.get("reason_details", ""),
                s.get("currency", "USD"),
            )
            for s in d["skipped_orders"]
        ),
        reasons=tuple(
            Reason(r["code"], r.get("symbol"), r.get("detail", "")) for r in d["reasons"]
        ),
        decision=tuple(condition_evaluation_of(c) for c in d["decision"]),
        weights=tuple(weight_of(w) for w in d["weights"]),
        created_at=datetime.fromisoformat(d["created_at"]),
        status=OptimizationStatus(d["status"]),
        status_changed_at=to_datetime(d.get("status_changed_at")),
        model_id=d.get("model_id"),
        amount=to_dec(d.get("amount")),
        shortfall=Decimal(d.get("shortfall", "0")),
        retry_of=d.get("retry_of"),
    )
