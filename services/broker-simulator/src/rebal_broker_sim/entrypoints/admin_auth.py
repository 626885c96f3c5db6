"""Who may use `/admin/*`: the holder of the admin token, not whoever has the trading keys.

The admin endpoints set prices, cash and faults and list every account's orders, so the trading
API keys (what the order-router holds) must not open them. With a token (`REBAL_SIM_ADMIN_TOKEN`
or `--admin-token`) a request needs `Authorization: Bearer <token>` and is answered 401 otherwise;
without one (the embedded stack's default, on loopback) they stay open, and the simulator says so
once at start.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from rebal_broker_sim.entrypoints.http_common import simulator_of
from rebal_broker_sim.service_layer.errors import AdminUnauthorized

ADMIN_TOKEN_ENV = "REBAL_SIM_ADMIN_TOKEN"
Endpoint = Callable[[Request], Awaitable[Response]]


def admin_headers(token: str | None) -> dict[str, str]:
    """What a caller of `/admin/*` sends (nothing when the simulator has no token)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def check_admin(request: Request) -> None:
    token = simulator_of(request).admin_token
    if token is None:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AdminUnauthorized(
            f"admin endpoints need 'Authorization: Bearer <admin token>' ({ADMIN_TOKEN_ENV}); "
            "the trading API keys do not open them"
        )
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise AdminUnauthorized("wrong admin token")


def admin_only(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        check_admin(request)
        return await endpoint(request)

    return guarded
