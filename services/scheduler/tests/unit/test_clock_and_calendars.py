"""The clock port, the clock loop, and slots on the always-open calendar (the calendar itself:
libs/runtime/tests/unit/test_calendar.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytest

from rebal_runtime.calendar import ALWAYS_OPEN, trading_calendar
from rebal_runtime.clock import FakeClock, SystemClock
from rebal_scheduler.domain import SchedulerConfig, drift_sweep_slots, nightly_slots
from rebal_scheduler.entrypoints.clock_loop import ClockLoop

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        await asyncio.sleep(0.005)
    raise TimeoutError("condition not met")


async def test_loop_ticks_at_every_clock_move_and_stops() -> None:
    clock, seen = FakeClock(T0), []

    async def tick(now: datetime) -> None:
        seen.append(now)

    loop = ClockLoop(tick, clock, tick_seconds=60)  # only clock moves wake it in this test
    await loop.start()
    await wait_for(lambda: loop.last_ticked == T0)
    for minutes in (1, 2, 3):
        moved = clock.advance(timedelta(minutes=1))
        await wait_for(lambda moved=moved: loop.last_ticked == moved)
        assert seen[-1] == T0 + timedelta(minutes=minutes)
    await loop.stop()
    clock.advance(timedelta(minutes=1))
    await asyncio.sleep(0.05)
    assert seen == [T0 + timedelta(minutes=m) for m in range(4)]


async def test_a_failing_tick_is_retried_at_the_next_tick() -> None:
    clock, calls = FakeClock(T0), []

    async def flaky(now: datetime) -> None:
        calls.append(now)
        if len(calls) < 3:
            raise ConnectionError("store down (injected)")

    loop = ClockLoop(flaky, clock, tick_seconds=0.01)
    await loop.start()
    await wait_for(lambda: loop.last_ticked is not None)
    await loop.stop()
    assert loop.failures == 2 and len(calls) >= 3


async def test_stop_waits_for_a_tick_in_progress() -> None:
    clock, started, finished = FakeClock(T0), asyncio.Event(), []

    async def slow(now: datetime) -> None:
        started.set()
        await asyncio.sleep(0.05)
        finished.append(now)

    loop = ClockLoop(slow, clock, tick_seconds=60)
    await loop.start()
    await started.wait()
    await loop.stop()
    assert finished == [T0]


async def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    await SystemClock().sleep(0)


def test_fake_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


def test_always_open_calendar_has_slots_every_day() -> None:
    calendar = trading_calendar(ALWAYS_OPEN)  # New York days
    config = SchedulerConfig(
        trading_window_start=time(0),
        trading_window_end=time(23, 59, 59),
        calendar_time=time(0),
        close_margin=timedelta(0),
        drift_sweep_every=timedelta(seconds=2),
    )
    sweeps = drift_sweep_slots(T0, T0 + timedelta(seconds=10), calendar, config)
    assert [s.scheduled_at for s in sweeps] == [T0 + timedelta(seconds=s) for s in (2, 4, 6, 8, 10)]
    weekend = nightly_slots(T0, T0 + timedelta(days=2), calendar, config)
    assert [s.trading_day for s in weekend] == [date(2026, 11, 22), date(2026, 11, 23)]
    assert calendar.previous_session(date(2026, 11, 21)) == date(2026, 11, 20)
