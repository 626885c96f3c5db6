"""The read model as Alpaca's JSON objects: portfolio, subscription, run, order (pure).

Decimals are strings, times RFC 3339 in UTC. Alpaca's fields first; rebal's own ids ride along
as `rebal_*` fields (clients that validate Alpaca's shape ignore unknown fields).

`initiated_from`: Alpaca added `dashboard` in 2026-11; alpaca-py 0.44 knows only `system` and
`api`, and declares the field optional. `sdk_safe=True` (every `/v1/rebalancing` answer) serves
`dashboard` as null, with the value in `rebal_initiated_from`; the event stream (which the SDK
does not read) serves it as is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rebal_api.domain.ids import NIL, name_uuid, to_uuid
from rebal_api.domain.views import (
    AccountView,
    ConditionView,
    ModelView,
    OrderView,
    RunRequest,
    RunView,
    SkippedView,
    WeightView,
)

Json = dict[str, Any]
SDK_INITIATORS = frozenset({"system", "api"})
"""The `initiated_from` values alpaca-py 0.44 parses."""
SDK_RUN_TYPES = frozenset({"full_rebalance", "invest_cash"})
"""The run `type`s alpaca-py 0.44 parses (not `partial_liquidation`, rebal's withdrawal)."""


def dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def weight_json(weight: WeightView) -> Json:
    return {"type": weight.type, "symbol": weight.symbol, "percent": dec(weight.percent)}


def condition_json(condition: ConditionView, *, omit_empty: bool = False) -> Json:
    body: Json = {
        "type": condition.type,
        "sub_type": condition.sub_type,
        "percent": dec(condition.percent),
        "day": condition.day,
    }
    return {k: v for k, v in body.items() if v is not None} if omit_empty else body


def portfolio_json(model: ModelView, *, stream: bool = False) -> Json:
    return {
        "id": model.uuid,
        "name": model.name,
        "description": model.description,
        "status": model.status,
        "cooldown_days": model.cooldown_days,
        "created_at": ts(model.created_at),
        "updated_at": ts(model.updated_at),
        "weights": [weight_json(w) for w in model.weights],
        "rebalance_conditions": [condition_json(c, omit_empty=stream) for c in model.conditions],
        "rebal_model_id": model.model_id,
    }


def subscription_json(account: AccountView) -> Json:
    subscription = account.subscription
    assert subscription is not None, "only a subscribed account has a subscription object"
    return {
        "id": subscription.uuid,
        "account_id": account.account_uuid,
        "portfolio_id": to_uuid("model", subscription.model_id),
        "created_at": ts(subscription.created_at),
        "updated_at": ts(subscription.updated_at),
        "last_rebalanced_at": ts(account.last_rebalanced_at),
        "rebal_portfolio_id": account.portfolio_id,
    }


def _initiator(value: str, sdk_safe: bool) -> Json:
    if sdk_safe and value not in SDK_INITIATORS:
        return {"initiated_from": None, "rebal_initiated_from": value}
    return {"initiated_from": value}


def order_json(order: OrderView, run: RunView) -> Json:
    client_order_id = order.client_order_id or f"{run.run_id}-{order.leg}"
    at = (
        order.filled_at
        or order.canceled_at
        or order.expired_at
        or order.failed_at
        or order.updated_at
        or run.updated_at
    )
    return {
        "id": to_uuid("order", order.broker_id)
        if order.broker_id
        else name_uuid("order", client_order_id),
        "client_order_id": client_order_id,
        "created_at": ts(run.created_at),
        "updated_at": ts(order.updated_at or at),
        "submitted_at": ts(run.created_at),
        "filled_at": ts(order.filled_at),
        "expired_at": ts(order.expired_at),
        "canceled_at": ts(order.canceled_at),
        "failed_at": ts(order.failed_at),
        "asset_class": "us_equity",
        "symbol": order.symbol,
        "notional": dec(order.notional),
        "qty": dec(order.qty),
        "filled_qty": dec(order.filled_qty),
        "filled_avg_price": dec(order.filled_avg_price),
        "order_class": "simple",
        "order_type": "market",
        "type": "market",
        "side": order.side,
        "time_in_force": "day",
        "status": order.status,
        "extended_hours": False,
        "rebal_leg": order.leg,
        "transaction_status": run.transaction_status(order),
    }


def skipped_json(skipped: SkippedView) -> Json:
    return {
        "symbol": skipped.symbol,
        "side": skipped.side,
        "notional": dec(skipped.notional),
        "currency": skipped.currency,
        "reason": skipped.reason,
        "reason_details": skipped.reason_details,
    }


def model_uuid(model_id: str | None) -> str:
    return NIL if model_id is None else to_uuid("model", model_id)


def run_json(run: RunView, *, orders: bool = True, sdk_safe: bool = True) -> Json:
    assert run.uuid is not None, "a run without its Alpaca id is not shown"
    body: Json = {
        "id": run.uuid,
        "type": run.type,
        "amount": dec(run.amount),
        **_initiator(run.initiated_from, sdk_safe),
        "status": run.status,
        "reason": run.reason,
        "account_id": to_uuid("account", run.account_id),
        "portfolio_id": model_uuid(run.model_id),
        "weights": [weight_json(w) for w in run.weights],
        "created_at": ts(run.created_at),
        "updated_at": ts(run.updated_at),
        "completed_at": ts(run.completed_at),
        "canceled_at": ts(run.canceled_at),
        "settled_at": ts(run.settled_at),
        "rebal_run_id": run.run_id,
        "rebal_portfolio_id": run.portfolio_id,
    }
    if orders:
        body["orders"] = [order_json(o, run) for o in run.orders]
        body["failed_orders"] = [order_json(o, run) for o in run.failed_orders]
        body["skipped_orders"] = [skipped_json(s) for s in run.skipped_orders]
    return body


def request_json(request: RunRequest, *, orders: bool = True) -> Json:
    """A requested run rebal has not created (yet), in the run object's shape."""
    body: Json = {
        "id": request.uuid,
        "type": request.type,
        "amount": dec(request.amount),
        **_initiator(request.initiated_from, True),
        "status": request.status,
        "reason": request.reason,
        "account_id": to_uuid("account", request.account_id),
        "portfolio_id": model_uuid(request.model_id),
        "weights": [weight_json(w) for w in request.weights],
        "created_at": ts(request.created_at),
        "updated_at": ts(request.updated_at),
        "completed_at": ts(request.completed_at),
        "canceled_at": ts(request.completed_at) if request.status == "CANCELED" else None,
        "settled_at": None,
        "rebal_run_id": request.run_id,
        "rebal_portfolio_id": request.portfolio_id,
    }
    if orders:
        body.update(orders=[], failed_orders=[], skipped_orders=[])
    return body
