"""The clock loop: the scheduler's second entry point beside Kafka.

Every ``tick_seconds`` it calls ``tick(clock.now())``. A failing tick (store
down, a calendar out of range) is logged and retried at the next tick: the
watermarks only advance with a successful commit, so nothing due is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime

from rebal_runtime.log import get_logger
from rebal_scheduler.adapters.clock import Clock

log = get_logger(__name__)

Tick = Callable[[datetime], Awaitable[object]]


class ClockLoop:
    def __init__(self, tick: Tick, clock: Clock, tick_seconds: float) -> None:
        self.tick = tick
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.last_ticked: datetime | None = None
        """The ``now`` of the last successful tick (tests wait on it)."""
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._ticking = False

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="scheduler-clock")

    async def stop(self) -> None:
        """Let a tick in progress finish (its commit is atomic either way, but a
        finished one saves redoing it); a sleeping loop is cancelled at once."""
        self._stopping = True
        task, self._task = self._task, None
        if task is None:
            return
        if not self._ticking:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while not self._stopping:
            self._ticking = True
            try:
                await self._tick_once()
            finally:
                self._ticking = False
            if self._stopping:
                return
            await self.clock.sleep(self.tick_seconds)

    async def _tick_once(self) -> None:
        now = self.clock.now()
        try:
            await self.tick(now)
        except Exception as exc:
            self.failures += 1
            log.warning(
                "tick failed; retrying at the next tick", error=repr(exc), now=now.isoformat()
            )
        else:
            self.last_ticked = now
