"""`LimitedBroker`: the broker's request limits, kept in one place (issue #18 "Respect the
broker's limits").

It implements `BrokerPort` around the real one, so every request the router makes (submits,
lookups by client_order_id, cancels, stream connects) passes it, whoever makes it: the
dispatcher, the reconciliation poll, a cancel, the trade-update follower.

- Rate: one shared `rebal_runtime.rate.TokenBucket` (Alpaca counts requests per minute and API
  key, 200/min by default); callers are served in turn.
- Concurrency: at most `max_in_flight` requests at once (an asyncio.Semaphore). A request takes
  its slot first and its token second, so it leaves as soon as it has the token: tokens taken
  while waiting for a slot would let the requests bunch up later, above the rate.
- 429: the bucket is held for the Retry-After (a `Backoff` per consecutive 429 when the broker
  gives none), so every caller waits, not only the one refused. The error is then raised as
  before: a 429 means the request was not processed, and the caller's own rules decide what to
  do (`submit_exactly_once` submits again with the same client_order_id, which is safe, after
  asking the execution window again; lookups and cancels are retried by their next round).

A stream connect takes a token but no slot: the stream stays open for hours and would take a
slot from the orders for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from rebal_order_router.domain import (
    BrokerOrder,
    BrokerPort,
    OrderSide,
    RateLimited,
    TradeUpdate,
)
from rebal_runtime.backoff import Backoff
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.rate import TokenBucket

log = get_logger(__name__)

T = TypeVar("T")

DEFAULT_429_BACKOFF = Backoff(first=1.0, maximum=60.0)
"""The hold after a 429 without Retry-After: 1 s, doubling per consecutive 429, up to the
minute Alpaca counts requests over."""

DEFAULT_MAX_HOLD_SECONDS = 60.0
"""The longest hold one 429 imposes: a skewed HTTP-date Retry-After must not stall every broker
call for hours (the refused call itself gives up past `RetryPolicy.max_retry_after` anyway)."""


def broker_bucket(requests_per_minute: float) -> TokenBucket:
    """The shared bucket: `requests_per_minute` on average, bursts of one second's worth (at
    least one request); smoother than the per-minute count a broker keeps, so within it."""
    return TokenBucket(rate=requests_per_minute / 60.0)


class LimitedBroker:
    """Implements `domain.ports.BrokerPort` over `inner`, within the broker's limits."""

    def __init__(
        self,
        inner: BrokerPort,
        bucket: TokenBucket,
        clock: Clock,
        *,
        max_in_flight: int = 8,
        backoff: Backoff = DEFAULT_429_BACKOFF,
        max_hold_seconds: float = DEFAULT_MAX_HOLD_SECONDS,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.inner = inner
        self.bucket = bucket
        self.clock = clock
        self.max_in_flight = max_in_flight
        self.backoff = backoff
        self.max_hold_seconds = max_hold_seconds
        self._slots = asyncio.Semaphore(max_in_flight)
        self._refusals = 0  # consecutive 429s: the backoff's attempt when no Retry-After
        # Read by tests and benchmarks:
        self.requests = 0  # requests sent to the broker
        self.rate_limited = 0  # of them refused with 429
        self.in_flight = 0
        self.peak_in_flight = 0

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
        return await self._call(
            lambda: self.inner.submit_order(
                account_id, client_order_id, symbol, side, qty=qty, notional=notional
            )
        )

    async def get_order_by_client_order_id(
        self, account_id: str, client_order_id: str
    ) -> BrokerOrder | None:
        return await self._call(
            lambda: self.inner.get_order_by_client_order_id(account_id, client_order_id)
        )

    async def cancel_order(self, account_id: str, order_id: str) -> None:
        await self._call(lambda: self.inner.cancel_order(account_id, order_id))

    async def stream_trade_updates(
        self, since_id: str | None = None
    ) -> AsyncIterator[Sequence[TradeUpdate]]:
        await self.bucket.acquire(self.clock)
        self.requests += 1
        try:
            async for updates in self.inner.stream_trade_updates(since_id):
                yield updates
        except RateLimited as exc:
            self._refused(exc)
            raise

    async def _call(self, request: Callable[[], Awaitable[T]]) -> T:
        async with self._slots:
            await self.bucket.acquire(self.clock)
            self.requests += 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            try:
                result = await request()
            except RateLimited as exc:
                self._refused(exc)
                raise
            finally:
                self.in_flight -= 1
        self._refusals = 0
        return result

    def _refused(self, exc: RateLimited) -> None:
        self.rate_limited += 1
        seconds = exc.retry_after
        if seconds is None:
            seconds = self.backoff.delay(self._refusals)
        self._refusals += 1
        seconds = min(seconds, self.max_hold_seconds)
        self.hold(seconds)
        log.warning(
            "broker rate limit hit; every broker call waits",
            retry_after=exc.retry_after,
            hold_seconds=seconds,
            refused=self.rate_limited,
        )

    def hold(self, seconds: float) -> None:
        """No request leaves for `seconds` from now. Holds overlap rather than add up: the
        requests in flight when the broker started refusing come back 429 together, and each
        says how long from now, not how much longer."""
        self.bucket.pause(self.clock.now(), seconds)


if TYPE_CHECKING:  # mypy proves the limiter satisfies the port
    _port_check: type[BrokerPort] = LimitedBroker
