"""What every broker endpoint shares: JSON answers, Alpaca-shaped errors, auth, fault gates."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from rebal_broker_sim.bootstrap import Simulator
from rebal_broker_sim.service_layer.errors import (
    BrokerError,
    MalformedRequest,
    RateLimitExceeded,
    ServiceUnavailable,
    Unauthorized,
)


def simulator_of(request: Request) -> Simulator:
    simulator: Simulator = request.app.state.simulator
    return simulator


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(
        # orjson: a third of json's cost per answer; compact, same keys, same order.
        orjson.dumps(payload, default=_json_default),
        status_code=status_code,
        media_type="application/json",
    )


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def error_response(error: BrokerError) -> Response:
    response = json_response({"code": error.code, "message": error.message}, error.http_status)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = error.challenge
    if isinstance(error, RateLimitExceeded):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


async def read_json(request: Request) -> Any:
    body = await request.body()
    try:
        # Decimals stay exact: a JSON number like 0.1 must never pass through float.
        return json.loads(body, parse_float=Decimal) if body else None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedRequest("request body is not valid JSON") from exc


def check_auth(request: Request) -> None:
    """HTTP Basic (Broker API) or APCA-API-KEY-ID / APCA-API-SECRET-KEY headers (Trading API)."""
    credentials = simulator_of(request).credentials
    key, secret = _basic_credentials(request.headers.get("authorization", ""))
    if key is None:
        key = request.headers.get("apca-api-key-id")
        secret = request.headers.get("apca-api-secret-key")
    if key is None or secret is None:
        raise Unauthorized("request is not authorized")
    key_ok = hmac.compare_digest(key.encode(), credentials.key.encode())
    secret_ok = hmac.compare_digest(secret.encode(), credentials.secret.encode())
    if not (key_ok and secret_ok):
        raise Unauthorized("request is not authorized")


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    key, separator, secret = decoded.partition(":")
    return (key, secret) if separator else (None, None)


async def apply_latency(request: Request) -> None:
    latency_ms = simulator_of(request).behaviour.current.latency_ms
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)


def check_rate_limit(request: Request) -> None:
    """Raise RateLimitExceeded when the client is over `rate_limit_per_minute` (trading routes;
    the admin routes and the event stream are not counted)."""
    simulator = simulator_of(request)
    retry_after = simulator.rate_limit.admit(simulator.behaviour.current.rate_limit_per_minute)
    if retry_after is not None:
        raise RateLimitExceeded(retry_after)


def check_outage(request: Request) -> None:
    if simulator_of(request).behaviour.take_outage():
        raise ServiceUnavailable("service unavailable (simulated outage)")


async def broker_gate(request: Request, *, rate_limited: bool = False) -> None:
    """Auth, then the rate limit (`rate_limited`: a trading route), then the configured latency,
    then a simulated outage if one is pending."""
    check_auth(request)
    if rate_limited:
        check_rate_limit(request)
    await apply_latency(request)
    check_outage(request)
