"""The Starlette application: broker API routes, admin routes, Alpaca-shaped errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from rebal_broker_sim.bootstrap import Simulator
from rebal_broker_sim.entrypoints.admin_routes import admin_routes
from rebal_broker_sim.entrypoints.event_routes import event_routes
from rebal_broker_sim.entrypoints.http_common import error_response, json_response
from rebal_broker_sim.entrypoints.trading_routes import trading_routes
from rebal_broker_sim.service_layer.errors import BrokerError


def create_app(
    simulator: Simulator, on_started: Callable[[], Awaitable[None]] | None = None
) -> Starlette:
    """`on_started` runs once the store is open (seeding prices and cash from the CLI)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await simulator.start()
        try:
            if on_started is not None:
                await on_started()
            yield
        finally:
            await simulator.stop()

    async def on_broker_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BrokerError)
        return error_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        # Unknown paths and wrong methods answer in Alpaca's {"code", "message"} shape too.
        assert isinstance(exc, HTTPException)
        return json_response(
            {"code": exc.status_code * 100000 + 10000, "message": exc.detail},
            exc.status_code,
        )

    app = Starlette(
        routes=[*trading_routes(), *event_routes(), *admin_routes()],
        exception_handlers={BrokerError: on_broker_error, HTTPException: on_http_error},
        lifespan=lifespan,
    )
    app.state.simulator = simulator
    return app
