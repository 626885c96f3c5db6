"""The clock loop: the scheduler's second entry point beside Kafka.

Every ``tick_seconds`` it calls ``tick(clock.now())``. A failing tick (store
down, a calendar out of range) is logged and retried at the next tick: the
watermarks only advance with a successful commit, so nothing due is lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rebal_runtime.clock import Clock
from rebal_runtime.periodic import PeriodicTask

Tick = Callable[[datetime], Awaitable[object]]


class ClockLoop:
    def __init__(self, tick: Tick, clock: Clock, tick_seconds: float) -> None:
        self.tick = tick
        self.clock = clock
        self.last_ticked: datetime | None = None
        """The ``now`` of the last successful tick (tests wait on it)."""
        self.task = PeriodicTask("scheduler-clock", self._tick_once, tick_seconds, clock)

    @property
    def failures(self) -> int:
        return self.task.failures

    async def start(self) -> None:
        await self.task.start()

    async def stop(self) -> None:
        """A tick in progress finishes (its commit is atomic either way, but a finished one
        saves redoing it); a sleeping loop stops at once."""
        await self.task.stop()

    async def _tick_once(self) -> None:
        now = self.clock.now()
        await self.tick(now)
        self.last_ticked = now
