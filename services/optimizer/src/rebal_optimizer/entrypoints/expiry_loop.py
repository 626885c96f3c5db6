"""The expiry sweep: the optimizer's clock-driven entry point beside Kafka.

Every `expiry_sweep_seconds` it expires the advisory optimizations past their deadline. A failing
round (store down) is logged and retried at the next one; an expiry is one atomic write, so a
round cut short loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from rebal_optimizer.adapters.clock import Clock
from rebal_runtime.log import get_logger

log = get_logger(__name__)

Sweep = Callable[[datetime], Awaitable[int]]


class ExpiryLoop:
    def __init__(self, sweep: Sweep, clock: Clock, every_seconds: float) -> None:
        self.sweep = sweep
        self.clock = clock
        self.every_seconds = every_seconds
        self.rounds = 0
        self.expired = 0
        self.last_swept: datetime | None = None  # the `now` of the last finished round
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="optimizer-expiry")

    async def stop(self) -> None:
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stopping:
            now = self.clock.now()
            try:
                self.expired += await self.sweep(now)
            except Exception as exc:
                log.warning("expiry sweep failed; retrying next round", error=repr(exc))
            else:
                self.last_swept = now
            self.rounds += 1
            await self.clock.sleep(self.every_seconds)
