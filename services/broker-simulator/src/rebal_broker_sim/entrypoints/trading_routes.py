"""Alpaca Broker API trading endpoints: /v1/trading/accounts/{account_id}/orders..."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from rebal_broker_sim.domain.orders import OPEN_STATUSES, OrderStatus
from rebal_broker_sim.entrypoints.http_common import (
    apply_latency,
    broker_gate,
    check_auth,
    check_rate_limit,
    json_response,
    read_json,
    simulator_of,
)
from rebal_broker_sim.entrypoints.order_parsing import (
    client_order_id_of,
    parse_order_request,
    symbol_of,
)
from rebal_broker_sim.service_layer.errors import (
    MalformedRequest,
    RateLimitExceeded,
    ServiceUnavailable,
    UnprocessableRequest,
)
from rebal_broker_sim.service_layer.views import order_view

# Set by the uvicorn protocol in server.py: the connection's transport, so that the
# drop-response fault can close the socket without writing a single byte.
TRANSPORT_STATE_KEY = "rebal_broker_sim.transport"


async def submit_order(request: Request) -> Response:
    check_auth(request)
    simulator = simulator_of(request)
    account_id = request.path_params["account_id"]
    try:
        check_rate_limit(request)
    except RateLimitExceeded:
        body = await _body_or_none(request)  # only to name the refused order in /admin/orders
        coid, symbol = client_order_id_of(body), symbol_of(body)
        await simulator.orders.record_refused_request(account_id, coid, symbol, "rate_limited", 429)
        raise
    await apply_latency(request)
    try:
        body = await read_json(request)
    except MalformedRequest:
        await simulator.orders.record_refused_request(account_id, None, None, "malformed", 400)
        raise
    coid, symbol = client_order_id_of(body), symbol_of(body)
    if simulator.behaviour.take_outage():
        await simulator.orders.record_refused_request(account_id, coid, symbol, "unavailable", 503)
        raise ServiceUnavailable("service unavailable (simulated outage)")
    try:
        order_request = parse_order_request(account_id, body, lambda: str(uuid.uuid4()))
    except UnprocessableRequest:
        await simulator.orders.record_refused_request(account_id, coid, symbol, "invalid", 422)
        raise
    result = await simulator.orders.submit_order(order_request)
    if result.drop_response:
        return _DroppedResponse()
    return json_response(order_view(result.order))


async def _body_or_none(request: Request) -> Any:
    try:
        return await read_json(request)
    except MalformedRequest:
        return None


async def get_order_by_client_order_id(request: Request) -> Response:
    await broker_gate(request, rate_limited=True)
    client_order_id = request.query_params.get("client_order_id")
    if not client_order_id:
        raise UnprocessableRequest("client_order_id is required")
    order = await simulator_of(request).orders.get_order_by_client_order_id(
        request.path_params["account_id"], client_order_id
    )
    return json_response(order_view(order))


async def get_order(request: Request) -> Response:
    await broker_gate(request, rate_limited=True)
    order = await simulator_of(request).orders.get_order(
        request.path_params["account_id"], request.path_params["order_id"]
    )
    return json_response(order_view(order))


async def cancel_order(request: Request) -> Response:
    await broker_gate(request, rate_limited=True)
    await simulator_of(request).orders.cancel_order(
        request.path_params["account_id"], request.path_params["order_id"]
    )
    return Response(status_code=204)


_CLOSED_STATUSES = frozenset(OrderStatus) - OPEN_STATUSES


async def list_orders(request: Request) -> Response:
    """Alpaca's list orders: ?status=open|closed|all (default open), limit (default 50, ≤500)."""
    await broker_gate(request, rate_limited=True)
    status = request.query_params.get("status", "open")
    statuses: dict[str, frozenset[OrderStatus] | None] = {
        "open": OPEN_STATUSES,
        "closed": _CLOSED_STATUSES,
        "all": None,
    }
    if status not in statuses:
        raise UnprocessableRequest("status must be open, closed or all")
    try:
        limit = int(request.query_params.get("limit", "50"))
    except ValueError as exc:
        raise UnprocessableRequest("limit must be an integer") from exc
    if not 1 <= limit <= 500:
        raise UnprocessableRequest("limit must be between 1 and 500")
    orders = await simulator_of(request).orders.list_orders(
        request.path_params["account_id"], statuses[status], limit
    )
    return json_response([order_view(order) for order in orders])


class _DroppedResponse(Response):
    """Fault injection: the order is stored, the connection closes, no answer is written."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: dict[str, Any] = scope.get("state", {})
        transport = state.get(TRANSPORT_STATE_KEY)
        if transport is not None:
            transport.close()
        # Without a transport (another server) the client simply never gets an answer.
        while (await receive())["type"] != "http.disconnect":
            pass


def trading_routes() -> list[Route]:
    base = "/v1/trading/accounts/{account_id}"
    return [
        Route(f"{base}/orders", submit_order, methods=["POST"]),
        Route(f"{base}/orders", list_orders, methods=["GET"]),
        Route(f"{base}/orders:by_client_order_id", get_order_by_client_order_id, methods=["GET"]),
        Route(f"{base}/orders/{{order_id}}", get_order, methods=["GET"]),
        Route(f"{base}/orders/{{order_id}}", cancel_order, methods=["DELETE"]),
    ]
