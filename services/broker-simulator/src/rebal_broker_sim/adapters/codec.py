"""Row encoding for SQLite: decimals as strings, times as fixed-width UTC ISO strings.

Fixed width (always microseconds, always +00:00) keeps text comparison equal to time order,
which the due-fill query relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson

from rebal_broker_sim.domain.orders import Order, OrderStatus, Side


# Cached (as the decoder): an order's times repeat in every row written for it, and equal
# aware datetimes encode to the same UTC text whatever their zone. A naive datetime never
# equals an aware one, so it still reaches the check and raises.
@lru_cache(maxsize=4096)
def encode_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are not stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


@lru_cache(maxsize=4096)
def decode_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def require_time(text: str | None) -> datetime:
    moment = decode_time(text)
    if moment is None:
        raise ValueError("missing timestamp")
    return moment


def encode_decimal(number: Decimal | None) -> str | None:
    return None if number is None else str(number)


def decode_decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


_TIME_FIELDS = (
    "created_at",
    "updated_at",
    "submitted_at",
    "filled_at",
    "expired_at",
    "canceled_at",
    "failed_at",
    "fill_due_at",
)
_DECIMAL_FIELDS = ("qty", "notional", "filled_qty", "filled_avg_price", "fill_ratio")


def encode_order(order: Order) -> str:
    body: dict[str, Any] = {
        "id": order.id,
        "account_id": order.account_id,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "status": order.status.value,
        "reject_reason": order.reject_reason,
    }
    for name in _TIME_FIELDS:
        body[name] = encode_time(getattr(order, name))
    for name in _DECIMAL_FIELDS:
        body[name] = encode_decimal(getattr(order, name))
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()


def decode_order(text: str) -> Order:
    body = orjson.loads(text)
    filled_qty = decode_decimal(body["filled_qty"])
    fill_ratio = decode_decimal(body["fill_ratio"])
    assert filled_qty is not None
    assert fill_ratio is not None
    return Order(
        id=body["id"],
        account_id=body["account_id"],
        client_order_id=body["client_order_id"],
        symbol=body["symbol"],
        side=Side(body["side"]),
        qty=decode_decimal(body["qty"]),
        notional=decode_decimal(body["notional"]),
        status=OrderStatus(body["status"]),
        created_at=require_time(body["created_at"]),
        updated_at=require_time(body["updated_at"]),
        submitted_at=require_time(body["submitted_at"]),
        filled_qty=filled_qty,
        filled_avg_price=decode_decimal(body["filled_avg_price"]),
        filled_at=decode_time(body["filled_at"]),
        expired_at=decode_time(body["expired_at"]),
        canceled_at=decode_time(body["canceled_at"]),
        failed_at=decode_time(body["failed_at"]),
        reject_reason=body["reject_reason"],
        fill_ratio=fill_ratio,
        fill_due_at=decode_time(body["fill_due_at"]),
    )
