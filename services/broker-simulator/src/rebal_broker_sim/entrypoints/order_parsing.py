"""Validate an Alpaca order request body into an `OrderRequest` (422 on anything unsupported)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from rebal_broker_sim.domain.decimals import DecimalFieldError, decimal_places, parse_decimal
from rebal_broker_sim.domain.orders import OrderRequest, Side
from rebal_broker_sim.service_layer.errors import UnprocessableRequest

MAX_CLIENT_ORDER_ID_LENGTH = 128


def client_order_id_of(body: object) -> str | None:
    """Best effort, for logging a refused request."""
    if isinstance(body, dict):
        value = body.get("client_order_id")
        return value if isinstance(value, str) else None
    return None


def symbol_of(body: object) -> str | None:
    if isinstance(body, dict):
        value = body.get("symbol")
        return value if isinstance(value, str) else None
    return None


def parse_order_request(
    account_id: str, body: object, new_client_order_id: Callable[[], str]
) -> OrderRequest:
    if not isinstance(body, dict):
        raise UnprocessableRequest("request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise UnprocessableRequest("symbol is required")
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise UnprocessableRequest("side must be buy or sell")
    order_type = body.get("type", body.get("order_type"))
    if order_type != "market":
        raise UnprocessableRequest("only market orders are supported (type must be market)")
    if body.get("time_in_force") != "day":
        raise UnprocessableRequest("time_in_force must be day")
    qty, notional = _amounts(body)
    return OrderRequest(
        account_id=account_id,
        client_order_id=_client_order_id(body, new_client_order_id),
        symbol=symbol.strip(),
        side=Side(side),
        qty=qty,
        notional=notional,
    )


def _amounts(body: dict[str, Any]) -> tuple[Decimal | None, Decimal | None]:
    raw_qty, raw_notional = body.get("qty"), body.get("notional")
    if (raw_qty is None) == (raw_notional is None):
        raise UnprocessableRequest("exactly one of qty and notional is required")
    try:
        if raw_qty is not None:
            qty = parse_decimal(raw_qty, "qty")
            if qty <= 0:
                raise UnprocessableRequest("qty must be > 0")
            if decimal_places(qty) > 9:
                raise UnprocessableRequest("qty must have at most 9 decimal places")
            return qty, None
        notional = parse_decimal(raw_notional, "notional")
    except DecimalFieldError as exc:
        raise UnprocessableRequest(str(exc)) from exc
    if notional <= 0:
        raise UnprocessableRequest("notional must be > 0")
    if decimal_places(notional) > 2:
        raise UnprocessableRequest("notional must be limited to 2 decimal places")
    return None, notional


def _client_order_id(body: dict[str, Any], new_client_order_id: Callable[[], str]) -> str:
    value = body.get("client_order_id")
    if value is None:
        return new_client_order_id()  # Alpaca generates one when the client sends none
    if not isinstance(value, str) or not value:
        raise UnprocessableRequest("client_order_id must be a non-empty string")
    if len(value) > MAX_CLIENT_ORDER_ID_LENGTH:
        raise UnprocessableRequest(
            f"client_order_id must be at most {MAX_CLIENT_ORDER_ID_LENGTH} characters"
        )
    return value
