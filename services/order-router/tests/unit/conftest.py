"""Shared fixtures of the order-router unit tests: a scripted fake of Alpaca's trading endpoints
served over HTTP on 127.0.0.1 (aiohttp.web, a port of its own per test), and a client wired to
it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

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
    lost_reply: process the request, then close the connection (the answer never arrives).
    dropped: close the connection without processing (the broker never saw the request).
    delay: wait this long before processing and answering (longer than the client's timeout).
    """

    status: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    lost_reply: bool = False
    dropped: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: CIMultiDict[str]
    content: bytes


class FakeAlpaca:
    """Alpaca's order semantics that matter here: unique client_order_id forever, lookup by it."""

    account = ACCOUNT
    orders_path = ORDERS_PATH

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: dict[str, list[Fault]] = {"POST": [], "GET": [], "DELETE": []}
        self.sse_chunks: list[bytes] = []
        self.connections: set[int] = set()  # the client's connections seen (one per socket)
        self.base_url = ""
        self._next_id = 0
        self._runner: web.AppRunner | None = None

    @property
    def sse_body(self) -> bytes:
        return b"".join(self.sse_chunks)

    @sse_body.setter
    def sse_body(self, body: bytes) -> None:
        self.sse_chunks = [body]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(
        self,
        method: str,
        status: int | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        *,
        lost_reply: bool = False,
        dropped: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Script the next not-yet-scripted request of `method` (faults queue up in order)."""
        fault = Fault(status, body, headers or {}, lost_reply, dropped, delay)
        self.faults[method].append(fault)

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method]

    async def handler(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        self.connections.add(id(request.transport))
        content = await request.read()
        recorded = RecordedRequest(
            request.method,
            request.path,
            dict(request.query),
            CIMultiDict(request.headers),
            content,
        )
        self.requests.append(recorded)
        queue = self.faults.get(request.method, [])
        fault = queue.pop(0) if queue else None
        if fault and fault.dropped:
            return _hang_up(request)
        if fault and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault and fault.status is not None:
            text = "" if fault.body is None else json.dumps(fault.body)
            return web.Response(status=fault.status, text=text, headers=fault.headers)
        response = await self._serve(request, recorded)
        if fault and fault.lost_reply:
            return _hang_up(request)
        return response

    async def _serve(self, request: web.Request, recorded: RecordedRequest) -> web.StreamResponse:
        method, path = recorded.method, recorded.path
        if method == "POST" and path == ORDERS_PATH:
            body = json.loads(recorded.content)
            coid = body["client_order_id"]
            if coid in self.orders:
                return web.json_response(
                    {"code": 42210000, "message": "client_order_id must be unique"}, status=422
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
            return web.json_response(self.orders[coid])
        if method == "GET" and path == f"{ORDERS_PATH}:by_client_order_id":
            found = self.orders.get(recorded.params["client_order_id"])
            if found is None:
                return web.json_response(
                    {"code": 40410000, "message": "order not found"}, status=404
                )
            return web.json_response(found)
        if method == "DELETE" and path.startswith(f"{ORDERS_PATH}/"):
            order_id = path.rsplit("/", 1)[1]
            for order in self.orders.values():
                if order["id"] == order_id:
                    order["status"] = "pending_cancel"
                    return web.Response(status=204)
            return web.json_response({"code": 40410000, "message": "order not found"}, status=404)
        if method == "GET" and path == "/v2/events/trades":
            stream = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await stream.prepare(request)
            for chunk in self.sse_chunks:
                await stream.write(chunk)
                await asyncio.sleep(0)  # each chunk its own write
            await stream.write_eof()
            return stream
        return web.json_response({"code": 40400000, "message": "no route"}, status=404)


def _hang_up(request: web.Request) -> web.StreamResponse:
    """Close the client's connection without an answer (what it sees of a lost reply)."""
    assert request.transport is not None
    request.transport.abort()
    return web.Response(status=500)


@pytest.fixture
async def fake_alpaca() -> AsyncIterator[FakeAlpaca]:
    fake = FakeAlpaca()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def alpaca_client(fake_alpaca: FakeAlpaca) -> AsyncIterator[AlpacaBrokerClient]:
    async with AlpacaBrokerClient(
        fake_alpaca.base_url,
        API_KEY,
        API_SECRET,
        account_id=ACCOUNT,
        timeout=2.0,
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
