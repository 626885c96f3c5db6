"""Shared fixtures of the order-router unit tests: a scripted fake of Alpaca's trading endpoints
served through httpx.MockTransport (no sockets), and a client wired to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from rebal_order_router.adapters.alpaca_client import AlpacaBrokerClient

API_KEY = "PKTESTKEY0123456789"
API_SECRET = "s3cr3t-Value-That-Must-Never-Leak"
ACCOUNT = "acct-1"
ORDERS_PATH = f"/v1/trading/accounts/{ACCOUNT}/orders"


def order_json(
    client_order_id: str,
    *,
    order_id: str = "ord-1",
    symbol: str = "AAPL",
    side: str = "sell",
    status: str = "accepted",
    qty: str | None = "10",
    notional: str | None = None,
    filled_qty: str = "0",
    filled_avg_price: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": order_id,
        "client_order_id": client_order_id,
        "symbol": symbol,
        "side": side,
        "type": "market",
        "time_in_force": "day",
        "status": status,
        "qty": qty,
        "notional": notional,
        "filled_qty": filled_qty,
        "filled_avg_price": filled_avg_price,
        "created_at": "2024-07-01T14:00:00.123456789Z",
        "updated_at": "2024-07-01T14:00:00.123456789Z",
        **extra,
    }


@dataclass
class Fault:
    """A scripted misbehaviour for the next request of one method.

    status: answer with it (and `body`, `headers`) instead of processing.
    lost_reply: process the request, then raise `lost_reply` (the answer never arrives).
    before: raise it without processing (e.g. a connect error).
    """

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    lost_reply: Exception | None = None
    before: Exception | None = None


class FakeAlpaca:
    """Alpaca's order semantics that matter here: unique client_order_id forever, lookup by it."""

    account = ACCOUNT
    orders_path = ORDERS_PATH

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.faults: dict[str, list[Fault]] = {"POST": [], "GET": [], "DELETE": []}
        self.sse_body: bytes = b""
        self._next_id = 0

    def fail_next(
        self,
        method: str,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        lost_reply: Exception | None = None,
        before: Exception | None = None,
    ) -> None:
        """Script the next not-yet-scripted request of `method` (faults queue up in order)."""
        self.faults[method].append(Fault(status, body, headers or {}, lost_reply, before))

    def calls(self, method: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.faults.get(request.method, [])
        fault = queue.pop(0) if queue else None
        if fault and fault.before is not None:
            raise fault.before
        if fault and fault.status is not None:
            return httpx.Response(fault.status, json=fault.body, headers=fault.headers)
        response = self._serve(request)
        if fault and fault.lost_reply is not None:
            raise fault.lost_reply
        return response

    def _serve(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path == ORDERS_PATH:
            body = json.loads(request.content)
            coid = body["client_order_id"]
            if coid in self.orders:
                return httpx.Response(
                    422, json={"code": 42210000, "message": "client_order_id must be unique"}
                )
            self._next_id += 1
            self.orders[coid] = order_json(
                coid,
                order_id=f"ord-{self._next_id}",
                symbol=body["symbol"],
                side=body["side"],
                qty=body.get("qty"),
                notional=body.get("notional"),
            )
            return httpx.Response(200, json=self.orders[coid])
        if request.method == "GET" and path == f"{ORDERS_PATH}:by_client_order_id":
            found = self.orders.get(request.url.params["client_order_id"])
            if found is None:
                return httpx.Response(404, json={"code": 40410000, "message": "order not found"})
            return httpx.Response(200, json=found)
        if request.method == "DELETE" and path.startswith(f"{ORDERS_PATH}/"):
            order_id = path.rsplit("/", 1)[1]
            for order in self.orders.values():
                if order["id"] == order_id:
                    order["status"] = "pending_cancel"
                    return httpx.Response(204)
            return httpx.Response(404, json={"code": 40410000, "message": "order not found"})
        if request.method == "GET" and path == "/v2/events/trades":
            return httpx.Response(
                200, content=self.sse_body, headers={"Content-Type": "text/event-stream"}
            )
        return httpx.Response(404, json={"code": 40400000, "message": "no route"})


@pytest.fixture
def fake_alpaca() -> FakeAlpaca:
    return FakeAlpaca()


@pytest.fixture
async def alpaca_client(fake_alpaca: FakeAlpaca) -> AsyncIterator[AlpacaBrokerClient]:
    async with AlpacaBrokerClient(
        "http://broker.test",
        API_KEY,
        API_SECRET,
        account_id=ACCOUNT,
        timeout=2.0,
        transport=httpx.MockTransport(fake_alpaca.handler),
    ) as client:
        yield client


class RecordingSleep:
    """Injected instead of asyncio.sleep: records the waits, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def make_order_json() -> Callable[..., dict[str, Any]]:
    return order_json


@pytest.fixture
def credentials() -> tuple[str, str]:
    return API_KEY, API_SECRET
