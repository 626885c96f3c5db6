"""The shared background mechanisms: the doubling delay, the periodic task on a fake clock, and
the stop rule (work in progress finishes, a waiting task stops at once)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest

from rebal_runtime.backoff import Backoff
from rebal_runtime.clock import FakeClock
from rebal_runtime.periodic import Background, PeriodicTask

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("condition not met")


def test_backoff_doubles_up_to_the_cap_and_jitters_down() -> None:
    backoff = Backoff(first=0.5, maximum=4.0)
    assert [backoff.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff.delay(10_000) == 4.0  # no overflow on huge counts
    jittered = Backoff(first=1.0, maximum=8.0, jitter=0.5)
    assert jittered.delay(2, random_fraction=1.0) == 2.0
    assert jittered.delay(2, random_fraction=0.0) == 4.0
    assert Backoff(first=0.0, maximum=10.0).delay(500) == 0.0
    assert Backoff(first=3.0, maximum=1.0).delay(0) == 1.0  # capped from the start
    assert Backoff(first=1.0, maximum=100.0, factor=3.0).delay(3) == 27.0
    with pytest.raises(ValueError):
        Backoff(first=1.0, maximum=2.0, jitter=1.5)
    with pytest.raises(ValueError):
        Backoff(first=1.0, maximum=2.0).delay(-1)


async def test_ticks_on_every_clock_move_and_survives_a_failing_tick() -> None:
    clock, seen = FakeClock(T0), []

    async def tick() -> None:
        seen.append(clock.now())
        if len(seen) == 2:
            raise ConnectionError("store down (injected)")

    task = PeriodicTask("t", tick, 3600, clock)  # only clock moves wake it
    await task.start()
    for n in range(1, 4):
        await wait_for(lambda n=n: len(seen) == n)
        await asyncio.sleep(0.01)  # let it reach its sleep
        clock.advance(timedelta(minutes=1))
    await wait_for(lambda: len(seen) == 4)
    await task.stop()
    assert task.rounds == 3 and task.failures == 1
    clock.advance(timedelta(minutes=1))
    await asyncio.sleep(0.02)
    assert len(seen) == 4  # stopped means stopped


async def test_stop_lets_a_tick_finish_and_stops_a_sleeping_task_at_once() -> None:
    started, finished = asyncio.Event(), []

    async def slow() -> None:
        started.set()
        await asyncio.sleep(0.05)
        finished.append(True)

    task = PeriodicTask("slow", slow, 3600)
    await task.start()
    await started.wait()
    await task.stop()
    assert finished == [True] and task.rounds == 1
    sleeping = PeriodicTask("sleeping", lambda: asyncio.sleep(0), 3600)
    await sleeping.start()
    await wait_for(lambda: sleeping.rounds == 1)
    await asyncio.wait_for(sleeping.stop(), 1)  # not after the hour


def test_an_interval_of_zero_would_spin() -> None:
    with pytest.raises(ValueError):
        PeriodicTask("spin", lambda: asyncio.sleep(0), 0)


async def test_a_stream_reader_finishes_the_item_in_hand_and_closes_its_stream() -> None:
    handled, closed, in_hand = [], [], asyncio.Event()

    async def stream() -> AsyncIterator[int]:
        try:
            for n in range(100):
                yield n
                await asyncio.sleep(0.01)
        finally:
            closed.append(True)

    async def read() -> None:
        async for item in stream():
            with background.busy():
                in_hand.set()
                await asyncio.sleep(0.03)
                handled.append(item)

    background = Background("reader", read)
    background.start()
    await in_hand.wait()
    await background.stop()
    assert handled == [0] and closed == [True] and not background.running


async def test_wake_ticks_at_once_and_a_wake_during_a_tick_is_not_lost() -> None:
    clock, seen, release = FakeClock(T0), [], asyncio.Event()

    async def tick() -> None:
        seen.append(len(seen))
        if len(seen) == 2:
            await release.wait()  # a tick in progress when the next wake-up comes

    task = PeriodicTask("woken", tick, 3600, clock)  # neither the hour nor the clock moves
    await task.start()
    await wait_for(lambda: len(seen) == 1)
    task.wake()
    await wait_for(lambda: len(seen) == 2)
    task.wake()  # during the second tick: a third follows it
    release.set()
    await wait_for(lambda: len(seen) == 3)
    await asyncio.sleep(0.02)
    await task.stop()
    assert len(seen) == 3 and task.rounds == 3


async def test_a_move_between_asking_to_sleep_and_sleeping_is_not_slept_past() -> None:
    """A loop reads the time, ticks, asks to sleep; the time moves before its sleep first runs
    (the test driving the clock saw the tick): the sleep still ends with that move."""
    clock = FakeClock(datetime(2026, 3, 10, 14, 30, tzinfo=UTC))
    asleep = asyncio.ensure_future(clock.sleep(60))
    clock.advance(timedelta(hours=1))
    await asyncio.wait_for(asleep, 1)


async def test_two_loops_on_one_fake_clock_both_tick_at_every_move() -> None:
    clock = FakeClock(datetime(2026, 3, 10, 14, 30, tzinfo=UTC))
    seen: dict[str, list[datetime]] = {"a": [], "b": []}

    def ticker(name: str) -> PeriodicTask:
        async def tick() -> None:
            seen[name].append(clock.now())

        return PeriodicTask(name, tick, 60, clock)

    loops = [ticker("a"), ticker("b")]
    for loop in loops:
        await loop.start()
    try:
        for hour in range(1, 30):
            moment = clock.advance(timedelta(hours=1))
            for _ in range(200):
                if all(seen[n] and seen[n][-1] == moment for n in seen):
                    break
                await asyncio.sleep(0.005)
            assert all(seen[n][-1] == moment for n in seen), (hour, seen)
    finally:
        for loop in loops:
            await loop.stop()
