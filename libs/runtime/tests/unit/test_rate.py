"""The token bucket: a rate on average, bursts up to the capacity, a 429's pause honoured."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from rebal_runtime.clock import FakeClock
from rebal_runtime.rate import TokenBucket

T0 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_full_bucket_bursts_its_capacity_then_follows_the_rate() -> None:
    bucket = TokenBucket(rate=10, capacity=3)
    assert [bucket.take(at(0)) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait_seconds(at(0)) == pytest.approx(0.1)
    assert not bucket.take(at(0.05))
    assert bucket.take(at(0.1))
    # idle for a minute: never more than the capacity
    assert bucket.available(at(60)) == 3


def test_over_a_long_run_no_more_than_the_rate_is_taken() -> None:
    bucket = TokenBucket(rate=5, capacity=1)
    taken = sum(bucket.take(at(step / 100)) for step in range(1000))  # polled for 10 s
    assert taken == 50  # at 0.0, 0.2, ..., 9.8


def test_a_clock_set_back_adds_nothing() -> None:
    bucket = TokenBucket(rate=1, capacity=1)
    assert bucket.take(at(10))
    assert not bucket.take(at(5))
    assert not bucket.take(at(10.5))
    assert bucket.take(at(11))


def test_a_pause_holds_every_taker_for_its_length() -> None:
    bucket = TokenBucket(rate=10, capacity=10)
    bucket.pause(at(0), 2.0)  # 429 Retry-After: 2
    assert bucket.wait_seconds(at(1.0)) == pytest.approx(1.1)
    assert not bucket.take(at(1.99))
    assert bucket.take(at(2.1))
    bucket.pause(at(3), 2.0)
    bucket.pause(at(3), 1.0)  # a second 429 at the same moment: the pauses overlap
    assert bucket.wait_seconds(at(3)) == pytest.approx(2.1)


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0)


async def test_acquire_waits_on_the_clock_and_serves_callers_in_turn() -> None:
    clock = FakeClock(T0)
    bucket = TokenBucket(rate=2, capacity=1)
    await bucket.acquire(clock)
    order: list[int] = []

    async def caller(n: int) -> None:
        await bucket.acquire(clock)
        order.append(n)

    tasks = [asyncio.create_task(caller(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert order == []
    for _ in range(3):
        clock.advance(timedelta(seconds=0.5))
        for _ in range(5):
            await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == [0, 1, 2]


async def test_more_tokens_than_the_bucket_holds_is_an_error() -> None:
    with pytest.raises(ValueError):
        await TokenBucket(rate=1, capacity=2).acquire(FakeClock(T0), tokens=3)
