"""The order-router's one broker adapter: an Alpaca Broker API trading client over aiohttp.

Endpoints (Alpaca Broker API; the embedded broker simulator speaks the same subset):
  POST   /v1/trading/accounts/{account_id}/orders
  GET    /v1/trading/accounts/{account_id}/orders:by_client_order_id?client_order_id=...
  DELETE /v1/trading/accounts/{account_id}/orders/{order_id}
  GET    /v2/events/trades  (SSE; resume with since_id / Last-Event-ID)
Authentication is HTTP Basic with the API key and secret. They live only inside the session's
default headers, already encoded: never in an attribute of this class, a log line, an error
message or `repr`.

aiohttp rather than httpx: per request it costs the router about a third of the CPU (issue
#18), and the router sends one request per order. Its connector keeps the connections alive
and sets TCP_NODELAY on each.
"""

from __future__ import annotations

import base64
import codecs
import json
import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import aiohttp

from rebal_order_router.adapters.alpaca_payloads import (
    HttpReply,
    MalformedPayload,
    broker_error_from,
    load_json,
    order_request_body,
    parse_broker_order,
    parse_trade_update,
)
from rebal_order_router.adapters.sse import SseMessage, iter_sse
from rebal_order_router.domain import (
    BrokerOrder,
    BrokerPort,
    BrokerUnavailable,
    OrderSide,
    TradeUpdate,
)
from rebal_runtime.clock import Clock, SystemClock

log = logging.getLogger(__name__)

TRADE_EVENTS_PATH = "/v2/events/trades"


def _orders_path(account_id: str) -> str:
    if not account_id:
        raise ValueError("account_id must not be empty")
    return f"/v1/trading/accounts/{quote(account_id, safe='')}/orders"


class AlpacaBrokerClient:
    """Implements `domain.ports.BrokerPort`. Use as an async context manager or call `aclose()`."""

    def __init__(
        self,
        base_url: str,
        key: str,
        secret: str,
        account_id: str | None = None,
        timeout: float = 10.0,
        *,
        stream_idle_timeout: float = 120.0,
        max_connections: int = 100,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_account_id = account_id
        self._timeout = timeout
        # No byte within this long (heartbeats included) means a dead connection: the stream
        # raises and the caller reconnects from its last processed event id.
        self._stream_idle_timeout = stream_idle_timeout
        self._clock: Clock = clock if clock is not None else SystemClock()
        # Built on first use: an aiohttp session belongs to the running event loop, and the
        # client is built before there is one (bootstrap, settings tests). The credentials wait
        # in the closure, where no attribute and no repr shows them.
        self._new_session = _session_factory(_basic_auth(key, secret), timeout, max_connections)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"AlpacaBrokerClient(base_url={self.base_url!r}, "
            f"account_id={self.default_account_id!r}, timeout={self._timeout!r})"
        )

    async def __aenter__(self) -> AlpacaBrokerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the broker client is closed")
        if self._session is None:
            self._session = self._new_session()
        return self._session

    async def submit_order(
        self,
        account_id: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        *,
        qty: Decimal | None = None,
        notional: Decimal | None = None,
    ) -> BrokerOrder:
        body = order_request_body(client_order_id, symbol, side, qty, notional)
        reply = await self._request("POST", _orders_path(account_id), body=body)
        return self._order_from(reply)

    async def get_order_by_client_order_id(
        self, account_id: str, client_order_id: str
    ) -> BrokerOrder | None:
        path = f"{_orders_path(account_id)}:by_client_order_id"
        params = {"client_order_id": client_order_id}
        reply = await self._request("GET", path, params=params, absent_ok=True)
        if reply.status == 404:
            return None
        return self._order_from(reply)

    async def cancel_order(self, account_id: str, order_id: str) -> None:
        """Raises OrderRejected (404/422) when the order is unknown or no longer cancelable."""
        await self._request("DELETE", f"{_orders_path(account_id)}/{quote(order_id, safe='')}")

    async def stream_trade_updates(
        self, since_id: str | None = None
    ) -> AsyncIterator[Sequence[TradeUpdate]]:
        """One connection's worth of trade updates after `since_id`, a batch per read of the
        stream (`iter_sse`).

        The id goes both as `since_id` (Alpaca's documented parameter) and as `Last-Event-ID`
        (the SSE resume header); an event equal to `since_id` is skipped in case the server
        treats the bound as inclusive. Unparseable events are logged and skipped: raising would
        replay the same bad event forever on every reconnect.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        params: dict[str, str] = {}
        if since_id:
            headers["Last-Event-ID"] = since_id
            params["since_id"] = since_id
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self._timeout, sock_read=self._stream_idle_timeout
        )
        url = self.base_url + TRADE_EVENTS_PATH
        try:
            async with self._http().get(
                url, headers=headers, params=params, timeout=timeout
            ) as response:
                if response.status != 200:
                    raise broker_error_from(
                        await _reply("GET", TRADE_EVENTS_PATH, response), self._clock.now()
                    )
                async for messages in iter_sse(_decoded(response.content.iter_any())):
                    updates = [
                        update
                        for message in messages
                        if (update := self._trade_update_from(message)) is not None
                        and update.event_id != since_id
                    ]
                    if updates:
                        yield updates
        except TimeoutError as exc:
            raise BrokerUnavailable(f"GET {TRADE_EVENTS_PATH}: stream timed out") from exc
        except aiohttp.ClientError as exc:
            raise BrokerUnavailable(f"GET {TRADE_EVENTS_PATH}: {type(exc).__name__}") from exc

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        absent_ok: bool = False,
    ) -> HttpReply:
        data = None if body is None else json.dumps(body).encode()
        headers = _JSON_BODY if data is not None else None
        try:
            async with self._http().request(
                method, self.base_url + path, data=data, params=params, headers=headers
            ) as response:
                reply = await _reply(method, path, response)
        except TimeoutError as exc:
            raise BrokerUnavailable(f"{method} {path}: timed out") from exc
        except aiohttp.ClientError as exc:
            raise BrokerUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        log.debug("broker %s %s -> %s", method, path, reply.status)
        if 200 <= reply.status < 300 or (absent_ok and reply.status == 404):
            return reply
        error = broker_error_from(reply, self._clock.now())
        log.warning("broker %s %s failed: %s", method, path, error)
        raise error

    @staticmethod
    def _order_from(reply: HttpReply) -> BrokerOrder:
        try:
            return parse_broker_order(load_json(reply.text))
        except MalformedPayload as exc:
            # On a submit this stays ambiguous (the order may exist): transient, look it up.
            raise BrokerUnavailable(f"malformed order payload: {exc}") from exc

    @staticmethod
    def _trade_update_from(message: SseMessage) -> TradeUpdate | None:
        try:
            data: Any = load_json(message.data)
            return parse_trade_update(data, message.last_event_id)
        except MalformedPayload as exc:
            log.error("skipping malformed trade event id=%r: %s", message.last_event_id, exc)
            return None


def _basic_auth(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode("ascii")


def _session_factory(
    authorization: str, timeout: float, max_connections: int
) -> Callable[[], aiohttp.ClientSession]:
    def new_session() -> aiohttp.ClientSession:
        # One session for every call: its connections are kept alive and reused. Every one of
        # them may stay in the pool, so requests up to the limit in flight never pay for a new
        # connection after the first ones.
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max_connections, limit_per_host=0),
            headers={"Accept": "application/json", "Authorization": authorization},
            timeout=aiohttp.ClientTimeout(total=timeout),
        )

    return new_session


_JSON_BODY: Mapping[str, str] = {"Content-Type": "application/json"}


async def _reply(method: str, path: str, response: aiohttp.ClientResponse) -> HttpReply:
    """The whole answer, read while the connection is still ours."""
    raw = await response.read()
    return HttpReply(
        method,
        path,
        response.status,
        raw.decode("utf-8", errors="replace"),
        response.headers.get("Retry-After"),
    )


async def _decoded(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """UTF-8 text of a byte stream; a character split across two reads waits for the second."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    async for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text


if TYPE_CHECKING:  # mypy proves the client satisfies the port
    _port_check: type[BrokerPort] = AlpacaBrokerClient
