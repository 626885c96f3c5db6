"""The expiry sweep: the optimizer's clock-driven entry point beside Kafka.

Every `expiry_sweep_seconds` it expires the advisory optimizations past their deadline. A failing
round (store down) is logged and retried at the next one; an expiry is one atomic write, so a
round cut short loses nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rebal_runtime.clock import Clock
from rebal_runtime.periodic import PeriodicTask

Sweep = Callable[[datetime], Awaitable[int]]


class ExpiryLoop:
    def __init__(self, sweep: Sweep, clock: Clock, every_seconds: float) -> None:
        self.sweep = sweep
        self.clock = clock
        self.expired = 0
        self.last_swept: datetime | None = None  # the `now` of the last finished round
        self.task = PeriodicTask("optimizer-expiry", self._round, every_seconds, clock)

    @property
    def rounds(self) -> int:
        return self.task.rounds + self.task.failures

    async def start(self) -> None:
        await self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def _round(self) -> None:
        now = self.clock.now()
        self.expired += await self.sweep(now)
        self.last_swept = now
