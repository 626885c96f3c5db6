"""LimitedBroker on a FakeClock: the rate over every call, the in-flight cap, a 429 holding every
caller (not only the refused one), and the exactly-once retry after it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from rebal_order_router.adapters.broker_limits import LimitedBroker, broker_bucket
from rebal_order_router.domain import BrokerOrder, OrderSide, RateLimited, RetryPolicy, TradeUpdate
from rebal_order_router.service_layer.exactly_once import submit_exactly_once
from rebal_runtime.backoff import Backoff
from rebal_runtime.clock import FakeClock

T0 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
STEP = 0.05  # seconds of fake time per tick of `run_clock`


class CountingBroker:
    """BrokerPort fake: records when (fake time) each request arrived, counts the requests in
    flight, refuses the next ones with 429 when told, and can hold requests at a gate."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.arrivals: list[tuple[str, float]] = []  # (what, seconds since T0)
        self.refuse: list[float | None] = []  # Retry-After of the next refusals (None: absent)
        self.gate: asyncio.Event | None = None  # set: requests wait for it while in flight
        self.in_flight = 0
        self.peak = 0

    async def _arrive(self, what: str) -> None:
        self.arrivals.append((what, (self.clock.now() - T0).total_seconds()))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            for _ in range(3):  # let the other callers run while this one is in flight
                await asyncio.sleep(0)
            if self.refuse:
                raise RateLimited("429 too many requests", self.refuse.pop(0))
        finally:
            self.in_flight -= 1

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
        await self._arrive(f"submit {client_order_id}")
        return BrokerOrder(
            id=f"B-{client_order_id}",
            client_order_id=client_order_id,
            symbol=symbol,
            side=side.value,
            status="accepted",
            qty=qty,
        )

    async def get_order_by_client_order_id(
        self, account_id: str, client_order_id: str
    ) -> BrokerOrder | None:
        await self._arrive(f"lookup {client_order_id}")
        return None

    async def cancel_order(self, account_id: str, order_id: str) -> None:
        await self._arrive(f"cancel {order_id}")

    async def stream_trade_updates(
        self, since_id: str | None = None
    ) -> AsyncIterator[Sequence[TradeUpdate]]:
        await self._arrive("stream")
        return
        yield  # an async generator that ends at once


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def broker(clock: FakeClock) -> CountingBroker:
    return CountingBroker(clock)


def limited(
    broker: CountingBroker, clock: FakeClock, per_minute: float, **kw: Any
) -> LimitedBroker:
    return LimitedBroker(broker, broker_bucket(per_minute), clock, **kw)


async def settle() -> None:
    for _ in range(30):
        await asyncio.sleep(0)


async def run_clock(clock: FakeClock, tasks: Sequence[asyncio.Task[Any]], limit: float) -> float:
    """Move the fake time on in STEPs until every task is done; returns the fake seconds."""
    elapsed = 0.0
    await settle()
    while not all(t.done() for t in tasks):
        assert elapsed < limit, "the callers never finished"
        clock.advance(timedelta(seconds=STEP))
        elapsed += STEP
        await settle()
    return elapsed


def submit(client: LimitedBroker, coid: str) -> Coroutine[Any, Any, BrokerOrder]:
    return client.submit_order("acct-1", coid, "AAPL", OrderSide.SELL, qty=Decimal(1))


@pytest.mark.parametrize("per_minute", [60, 200])
async def test_n_submits_at_r_a_minute_take_n_over_r_minutes(
    clock: FakeClock, broker: CountingBroker, per_minute: int
) -> None:
    n = per_minute  # a minute's worth
    client = limited(broker, clock, per_minute)
    tasks = [asyncio.create_task(submit(client, f"c{i}")) for i in range(n)]
    await run_clock(clock, tasks, limit=120)

    times = [t for _, t in broker.arrivals]
    assert len(times) == n and client.requests == n
    # a full bucket bursts one second's worth at once; the rest follow at the rate
    burst = max(1.0, per_minute / 60)
    expected = (n - burst) / (per_minute / 60)
    assert expected <= times[-1] <= expected + STEP + 1e-9
    assert 59 <= times[-1] <= 60  # N/R minutes, less the one-second burst
    # and never more than the rate within any second after the burst
    for start in range(2, int(times[-1])):
        within = [t for t in times if start <= t < start + 1]
        assert len(within) <= per_minute / 60 + 1


async def test_every_kind_of_call_shares_the_one_bucket(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 60)  # one a second, a burst of one
    tasks: list[asyncio.Task[Any]] = [
        asyncio.create_task(submit(client, "c1")),
        asyncio.create_task(client.get_order_by_client_order_id("acct-1", "c1")),
        asyncio.create_task(client.cancel_order("acct-1", "B-c1")),
    ]

    async def read_stream() -> None:
        async for _ in client.stream_trade_updates():
            pass

    tasks.append(asyncio.create_task(read_stream()))
    await run_clock(clock, tasks, limit=10)
    times = [t for _, t in broker.arrivals]
    assert len(times) == 4
    assert all(b - a >= 1 - 1e-9 for a, b in pairwise(times))


async def test_a_429_with_retry_after_2_holds_every_caller_at_least_2_seconds(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 6000)  # 100 a second: only the 429 can hold anyone
    broker.refuse = [2.0]
    with pytest.raises(RateLimited):
        await submit(client, "refused")
    assert client.rate_limited == 1

    others: list[asyncio.Task[Any]] = [
        asyncio.create_task(submit(client, "other")),
        asyncio.create_task(client.get_order_by_client_order_id("acct-1", "x")),
        asyncio.create_task(client.cancel_order("acct-1", "B-x")),
    ]
    await run_clock(clock, others, limit=10)
    (first, *rest) = broker.arrivals
    assert first == ("submit refused", 0.0)
    assert len(rest) == 3 and all(t >= 2.0 for _, t in rest)


async def test_the_refused_submit_is_sent_again_after_the_hold_and_placed_once(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 6000)
    broker.refuse = [2.0]
    policy = RetryPolicy(max_attempts=3, base_delay=0.1, max_delay=1.0, jitter=0.0)
    task = asyncio.create_task(
        submit_exactly_once(
            client,
            "acct-1",
            "c1",
            "AAPL",
            OrderSide.SELL,
            qty=Decimal(1),
            policy=policy,
            sleep=clock.sleep,
        )
    )
    await run_clock(clock, [task], limit=10)
    assert task.result().client_order_id == "c1"
    # a 429 was not processed: the same client_order_id goes again, no lookup needed
    assert [w for w, _ in broker.arrivals] == ["submit c1", "submit c1"]
    assert broker.arrivals[1][1] >= 2.0


async def test_429s_coming_back_together_hold_once_not_once_each(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 6000)
    broker.gate = asyncio.Event()
    broker.refuse = [2.0, 2.0, 2.0]  # three in flight, all refused
    refused = [asyncio.create_task(submit(client, f"r{i}")) for i in range(3)]
    await settle()
    broker.gate.set()
    await settle()
    assert all(isinstance(t.exception(), RateLimited) for t in refused)
    broker.gate = None
    later = asyncio.create_task(submit(client, "later"))
    await run_clock(clock, [later], limit=10)
    assert 2.0 <= broker.arrivals[-1][1] <= 2.5  # not 6 s


async def test_a_429_without_retry_after_holds_for_the_backoff(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 6000, backoff=Backoff(first=1.0, maximum=60.0))
    broker.refuse = [None, None]
    for _ in range(2):
        task = asyncio.create_task(submit(client, "c1"))
        await run_clock(clock, [task], limit=10)
        assert isinstance(task.exception(), RateLimited)
    ok = asyncio.create_task(submit(client, "c1"))
    await run_clock(clock, [ok], limit=10)
    times = [t for _, t in broker.arrivals]
    assert times[1] - times[0] >= 1.0  # 1 s after the first 429
    assert times[2] - times[1] >= 2.0  # then doubled


async def test_a_hold_longer_than_the_cap_is_cut_to_it(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 6000, max_hold_seconds=5.0)
    broker.refuse = [3600.0]  # e.g. a skewed HTTP-date
    with pytest.raises(RateLimited):
        await submit(client, "c1")
    task = asyncio.create_task(submit(client, "c2"))
    await run_clock(clock, [task], limit=10)
    assert 5.0 <= broker.arrivals[-1][1] <= 5.5


async def test_requests_in_flight_never_exceed_the_cap(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 60_000, max_in_flight=3)
    broker.gate = asyncio.Event()
    calls: list[Coroutine[Any, Any, BrokerOrder | None]] = [
        submit(client, f"c{i}") for i in range(10)
    ]
    calls += [client.get_order_by_client_order_id("acct-1", f"c{i}") for i in range(10)]
    tasks = [asyncio.create_task(c) for c in calls]
    await settle()
    assert broker.in_flight == 3  # the rest wait for a slot, not at the broker
    broker.gate.set()
    await run_clock(clock, tasks, limit=10)
    assert len(broker.arrivals) == 20
    assert broker.peak == 3 and client.peak_in_flight == 3 and client.in_flight == 0


async def test_a_stream_connect_takes_a_token_but_no_slot(
    clock: FakeClock, broker: CountingBroker
) -> None:
    client = limited(broker, clock, 60_000, max_in_flight=1)
    broker.gate = asyncio.Event()
    submit_task = asyncio.create_task(submit(client, "c1"))  # holds the only slot
    await settle()

    async def read_stream() -> None:
        async for _ in client.stream_trade_updates():
            pass

    stream = asyncio.create_task(read_stream())
    await settle()
    assert [w for w, _ in broker.arrivals] == ["submit c1", "stream"]
    broker.gate.set()
    await asyncio.wait_for(asyncio.gather(submit_task, stream), 5)
    assert client.requests == 2


def test_the_cap_must_be_positive(clock: FakeClock, broker: CountingBroker) -> None:
    with pytest.raises(ValueError):
        limited(broker, clock, 200, max_in_flight=0)
