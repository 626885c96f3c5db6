"""Alpaca JSON <-> domain values, and HTTP error classification. No I/O."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from rebal_order_router.domain import (
    BrokerAuthFailed,
    BrokerError,
    BrokerOrder,
    BrokerUnavailable,
    DuplicateClientOrderId,
    OrderRejected,
    OrderSide,
    RateLimited,
    TradeUpdate,
)

DUPLICATE_CLIENT_ORDER_ID_MESSAGE = "client_order_id must be unique"
_FRACTION = re.compile(r"(\.\d{6})\d+")


class MalformedPayload(ValueError):
    """The broker answered something that is not the documented shape."""


@dataclass(frozen=True)
class HttpReply:
    """What error classification needs of an HTTP answer, whichever client read it."""

    method: str
    path: str
    status: int
    text: str
    retry_after: str | None = None  # the Retry-After header, as sent


def plain(number: Decimal) -> str:
    """Decimal as Alpaca expects it: a plain string, never exponent notation."""
    return format(number, "f")


def order_request_body(
    client_order_id: str,
    symbol: str,
    side: OrderSide,
    qty: Decimal | None,
    notional: Decimal | None,
) -> dict[str, str]:
    if (qty is None) == (notional is None):
        raise ValueError("give exactly one of qty or notional")
    body = {
        "symbol": symbol,
        "side": side.value,
        "type": "market",
        "time_in_force": "day",
        "client_order_id": client_order_id,
    }
    if qty is not None:
        body["qty"] = plain(qty)
    if notional is not None:
        body["notional"] = plain(notional)
    return body


def load_json(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise MalformedPayload(f"not JSON: {exc}") from exc


def _decimal(value: object, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise MalformedPayload(f"{field}: not a decimal: {value!r}")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise MalformedPayload(f"{field}: not a decimal: {value!r}") from exc


def _datetime(value: object, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{field}: not a timestamp: {value!r}")
    try:
        # Alpaca sends RFC 3339 with up to nanoseconds; Python 3.11 reads it (Z, any fraction
        # digits, keeping microseconds) without the normalisation below, which costs a regex.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        text = _FRACTION.sub(r"\1", value.replace("Z", "+00:00").replace("z", "+00:00"))
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise MalformedPayload(f"{field}: not a timestamp: {value!r}") from exc
    # Alpaca timestamps are UTC; a zone-less one is read as UTC rather than refused.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _text(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{field}: missing or not a string")
    return value


def parse_broker_order(data: object) -> BrokerOrder:
    if not isinstance(data, Mapping):
        raise MalformedPayload("order: not an object")
    return BrokerOrder(
        id=_text(data, "id"),
        client_order_id=_text(data, "client_order_id"),
        symbol=_text(data, "symbol"),
        side=_text(data, "side"),
        status=_text(data, "status"),
        qty=_decimal(data.get("qty"), "qty"),
        notional=_decimal(data.get("notional"), "notional"),
        filled_qty=_decimal(data.get("filled_qty"), "filled_qty") or Decimal(0),
        filled_avg_price=_decimal(data.get("filled_avg_price"), "filled_avg_price"),
        created_at=_datetime(data.get("created_at"), "created_at"),
        updated_at=_datetime(data.get("updated_at"), "updated_at"),
        submitted_at=_datetime(data.get("submitted_at"), "submitted_at"),
        filled_at=_datetime(data.get("filled_at"), "filled_at"),
        canceled_at=_datetime(data.get("canceled_at"), "canceled_at"),
        expired_at=_datetime(data.get("expired_at"), "expired_at"),
        failed_at=_datetime(data.get("failed_at"), "failed_at"),
        reject_reason=_optional_text(data.get("reject_reason")),
    )


def _optional_text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_trade_update(data: object, sse_event_id: str = "") -> TradeUpdate:
    """`sse_event_id` (the SSE `id:` field) is the fallback when the JSON has no event_id."""
    if not isinstance(data, Mapping):
        raise MalformedPayload("trade update: not an object")
    event_id = data.get("event_id")
    event_id = str(event_id) if event_id not in (None, "") else sse_event_id
    if not event_id:
        raise MalformedPayload("trade update: no event_id")
    at = _datetime(data.get("at"), "at")
    if at is None:
        raise MalformedPayload("trade update: no at")
    execution_id = data.get("execution_id")
    return TradeUpdate(
        event_id=event_id,
        event=_text(data, "event"),
        at=at,
        account_id=str(data.get("account_id") or ""),
        order=parse_broker_order(data.get("order")),
        qty=_decimal(data.get("qty"), "qty"),
        price=_decimal(data.get("price"), "price"),
        timestamp=_datetime(data.get("timestamp"), "timestamp"),
        execution_id=str(execution_id) if execution_id else None,
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date); None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _error_body(reply: HttpReply) -> tuple[int | None, str]:
    try:
        body = json.loads(reply.text)
    except ValueError:
        return None, reply.text[:300]
    if not isinstance(body, Mapping):
        return None, reply.text[:300]
    code = body.get("code")
    message = body.get("message")
    code_number = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
    return code_number, str(message) if message is not None else reply.text[:300]


def broker_error_from(reply: HttpReply, now: datetime) -> BrokerError:
    """Classify a non-success reply (see domain.errors for what each class asks of callers)."""
    status = reply.status
    code, message = _error_body(reply)
    what = f"{reply.method} {reply.path}: HTTP {status}"
    if status == 429:
        return RateLimited(f"{what}: {message}", parse_retry_after(reply.retry_after, now))
    if status >= 500 or status == 408:
        return BrokerUnavailable(f"{what}: {message}")
    if status == 401:
        return BrokerAuthFailed(f"{what}: {message}")
    if status == 422 and DUPLICATE_CLIENT_ORDER_ID_MESSAGE in message.lower():
        return DuplicateClientOrderId(code, message)
    return OrderRejected(status, code, message)
