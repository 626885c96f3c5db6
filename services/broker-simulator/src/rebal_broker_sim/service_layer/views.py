"""Alpaca-shaped JSON views of orders and trade updates (decimals as strings, RFC 3339 times)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from rebal_broker_sim.domain.decimals import format_decimal
from rebal_broker_sim.domain.orders import Order
from rebal_broker_sim.service_layer.ports import JsonObject, TradeUpdate

_ASSET_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "rebal-broker-sim/assets")


# Cached: an order's times repeat across its views (created = updated = submitted, the new
# and fill updates, the answer), and equal datetimes format to the same UTC text whatever
# their zone, so a hit is always right.
@lru_cache(maxsize=4096)
def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# A uuid5 per view was a measurable share of each order; the symbols are few.
@lru_cache(maxsize=4096)
def asset_id(symbol: str) -> str:
    """A stable asset id per symbol, as Alpaca returns one on every order."""
    return str(uuid.uuid5(_ASSET_NAMESPACE, symbol))


def order_view(order: Order) -> JsonObject:
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "submitted_at": rfc3339(order.submitted_at),
        "filled_at": rfc3339(order.filled_at),
        "expired_at": rfc3339(order.expired_at),
        "canceled_at": rfc3339(order.canceled_at),
        "failed_at": rfc3339(order.failed_at),
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id(order.symbol),
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": format_decimal(order.notional),
        "qty": format_decimal(order.qty),
        "filled_qty": format_decimal(order.filled_qty),
        "filled_avg_price": format_decimal(order.filled_avg_price),
        "order_class": "simple",
        "order_type": "market",
        "type": "market",
        "side": order.side.value,
        "time_in_force": "day",
        "limit_price": None,
        "stop_price": None,
        "status": order.status.value,
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "commission": "0",
        "reject_reason": order.reject_reason,
    }


def trade_update_view(update: TradeUpdate) -> dict[str, Any]:
    return {
        "event_id": update.event_id,
        "at": rfc3339(update.at),
        "timestamp": rfc3339(update.at),
        "account_id": update.account_id,
        "event": update.event,
        "order": update.order,
        "qty": format_decimal(update.qty),
        "price": format_decimal(update.price),
        "position_qty": format_decimal(update.position_qty),
    }
