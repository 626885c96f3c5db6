"""Admin endpoints for tests and demos, behind their own token (`admin_auth`); `/health` is open."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rebal_broker_sim.domain.decimals import format_decimal
from rebal_broker_sim.entrypoints.admin_auth import admin_only
from rebal_broker_sim.entrypoints.behaviour_parsing import (
    behaviour_changes,
    behaviour_view,
    cash_changes,
    decimal_field,
)
from rebal_broker_sim.entrypoints.http_common import json_response, read_json, simulator_of
from rebal_broker_sim.service_layer.errors import UnprocessableRequest
from rebal_broker_sim.service_layer.views import order_view, rfc3339


async def health(request: Request) -> Response:
    return json_response({"status": "ok"})


async def list_everything(request: Request) -> Response:
    """Every stored order and every order request received, duplicates included."""
    snapshot = await simulator_of(request).queries.admin_snapshot()
    requests = [
        {
            "seq": record.seq,
            "received_at": rfc3339(record.received_at),
            "account_id": record.account_id,
            "client_order_id": record.client_order_id,
            "symbol": record.symbol,
            "outcome": record.outcome,
            "http_status": record.http_status,
            "order_id": record.order_id,
        }
        for record in snapshot.requests
    ]
    outcomes = Counter(record.outcome for record in snapshot.requests)
    return json_response(
        {
            "orders": [
                {"account_id": order.account_id, **order_view(order)} for order in snapshot.orders
            ],
            "requests": requests,
            "request_count": len(requests),
            "duplicate_requests": outcomes.get("duplicate", 0),
            "outcomes": dict(sorted(outcomes.items())),
            # every trading request answered 429, lookups and cancels included
            "rate_limited_requests": simulator_of(request).rate_limit.refused,
        }
    )


async def set_prices(request: Request) -> Response:
    body = await read_json(request)
    prices = body.get("prices") if isinstance(body, dict) else None
    if not isinstance(prices, list):
        raise UnprocessableRequest('body must be {"prices": [{"symbol": .., "price": ..}]}')
    # Validate every entry before writing any, so a bad batch changes nothing.
    parsed = [_price_entry(entry) for entry in prices]
    price_book = simulator_of(request).price_book
    for symbol, price, tradable, fractionable in parsed:
        await price_book.set_price(symbol, price, tradable, fractionable)
    return await list_prices(request)


def _price_entry(entry: object) -> tuple[str, Decimal, bool, bool]:
    if not isinstance(entry, dict) or not isinstance(entry.get("symbol"), str):
        raise UnprocessableRequest("each price needs a symbol")
    price = decimal_field(entry.get("price"), f"price of {entry['symbol']}")
    if price <= 0:
        raise UnprocessableRequest(f"price of {entry['symbol']} must be > 0")
    tradable, fractionable = entry.get("tradable", True), entry.get("fractionable", True)
    if not isinstance(tradable, bool) or not isinstance(fractionable, bool):
        raise UnprocessableRequest("tradable and fractionable must be true or false")
    return entry["symbol"], price, tradable, fractionable


async def list_prices(request: Request) -> Response:
    quotes = await simulator_of(request).price_book.all_quotes()
    return json_response(
        {
            "prices": [
                {
                    "symbol": quote.symbol,
                    "price": format_decimal(quote.price),
                    "tradable": quote.tradable,
                    "fractionable": quote.fractionable,
                    "updated_at": rfc3339(quote.updated_at),
                }
                for quote in quotes
            ]
        }
    )


async def get_config(request: Request) -> Response:
    simulator = simulator_of(request)
    snapshot = await simulator.queries.admin_snapshot()
    return json_response(behaviour_view(simulator.behaviour.current, snapshot.cash))


async def update_config(request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise UnprocessableRequest("config must be a JSON object")
    simulator = simulator_of(request)
    changes, cash = behaviour_changes(body), cash_changes(body)
    try:
        simulator.behaviour.update(**changes)
    except ValueError as exc:
        raise UnprocessableRequest(str(exc)) from exc
    if cash:
        await simulator.orders.set_cash(cash)
    return await get_config(request)


async def end_of_day(request: Request) -> Response:
    expired = await simulator_of(request).orders.expire_open_orders()
    return json_response({"expired": [order_view(order) for order in expired]})


def admin_routes() -> list[Route]:
    return [
        Route("/health", health, methods=["GET"]),
        Route("/admin/orders", admin_only(list_everything), methods=["GET"]),
        Route("/admin/prices", admin_only(set_prices), methods=["POST"]),
        Route("/admin/prices", admin_only(list_prices), methods=["GET"]),
        Route("/admin/config", admin_only(get_config), methods=["GET"]),
        Route("/admin/config", admin_only(update_config), methods=["POST"]),
        Route("/admin/end-of-day", admin_only(end_of_day), methods=["POST"]),
    ]
