"""The FastAPI application: Alpaca's Rebalancing API paths over the service layer.

Every path but `/health` needs HTTP Basic auth with the api's key and secret (compared in
constant time; never logged). Every error is Alpaca's `{"code": ..., "message": ...}`: 400 for
a request that is not well formed, 401, 404 for an unknown resource, 422 for a request a rule
refuses.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse as StarletteJSON
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from starlette.exceptions import HTTPException

from rebal_api.entrypoints.auth import ApiKeyAuth
from rebal_api.service_layer.book_commands import BookCommands
from rebal_api.service_layer.book_queries import BookQueries
from rebal_api.service_layer.commands import Commands
from rebal_api.service_layer.dashboard import DashboardQueries
from rebal_api.service_layer.errors import ApiError, BadRequest
from rebal_api.service_layer.queries import Queries
from rebal_api.service_layer.stream import Stream
from rebal_api.service_layer.writes import Answer, fingerprint
from rebal_runtime.clock import Clock
from rebal_schemas.types import EntityId

DESCRIPTION = """Alpaca's Broker API Rebalancing endpoints (portfolios, subscriptions, runs, the
rebalancer event stream) and InvestSuite-style portfolio endpoints (`/v1/portfolios`: holdings,
cash, settings, block state, optimizations with their decision record, transactions, deposits,
withdrawals, the owner's choice) over rebal's topics: reads from the api's projection of the
public topics, writes as events (model.updated, portfolio.patched, rebalance.requested,
optimization.decided, run.cancel_requested). Every write takes an `Idempotency-Key`."""


class JSONResponse(StarletteJSON):
    """JSON by orjson: the same compact UTF-8 text, several times faster for a page of runs."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(frozen=True)
class Services:
    commands: Commands
    queries: Queries
    stream: Stream
    clock: Clock
    book_commands: BookCommands
    book_queries: BookQueries
    dashboard: DashboardQueries


def answer(result: Answer) -> Response:
    """A write's answer; `Idempotent-Replayed: true` when it is the first answer repeated."""
    headers = {"Idempotent-Replayed": "true"} if result.replayed else None
    if result.status == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse(result.body, status_code=result.status, headers=headers)


Delete = Callable[[str, str | None, str], Awaitable[Answer]]


async def deleted(name: str, base: str, raw_id: str, key: str | None, command: Delete) -> Response:
    """A `DELETE {base}/{id}`: the id checked, the write fingerprinted, its answer."""
    uuid = parse_uuid(name, raw_id)
    return answer(await command(uuid, key, fingerprint("DELETE", f"{base}/{uuid}", "")))


def parse_uuid(name: str, value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise BadRequest(f"{name} is not a UUID: {value[:64]!r}") from None


_ENTITY_ID: TypeAdapter[str] = TypeAdapter(EntityId)


def parse_id(name: str, value: str) -> str:
    """A rebal id (1-128 printable characters, no white space), or 400."""
    try:
        return _ENTITY_ID.validate_python(value)
    except ValidationError:
        raise BadRequest(f"{name} is not a rebal id: {value[:64]!r}") from None


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg")))
    return "; ".join(parts) or "invalid request"


def create_app(services: Services, key: str, secret: str) -> FastAPI:
    from rebal_api.entrypoints import (
        routes_events,
        routes_investsuite,
        routes_portfolios,
        routes_runs,
        routes_ui,
    )

    app = FastAPI(title="rebal api", version="0.1.0", description=DESCRIPTION)
    auth = [Depends(ApiKeyAuth(key, secret))]
    # FastAPI tries the routes in order, a regex match each: the portfolio reads come first,
    # the most frequent (the paths are disjoint, so the order changes no match; the OpenAPI
    # document is rendered with sorted keys, so not it either)
    for module in (routes_investsuite, routes_runs, routes_portfolios, routes_events, routes_ui):
        app.include_router(module.router(services), dependencies=auth)

    @app.get("/health", include_in_schema=False)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Basic realm="rebal"'} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(BadRequest(_validation_message(exc)).body(), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = exc.status_code * 100_000 + 10_000
        return JSONResponse({"code": code, "message": str(exc.detail)}, status_code=exc.status_code)

    return app
