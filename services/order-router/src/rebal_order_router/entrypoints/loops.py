"""A periodic background loop (the reconciliation poll), started and stopped with the runtime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from rebal_runtime.log import get_logger

log = get_logger(__name__)


class PeriodicLoop:
    """Runs `work` every `seconds` (the first round right after start). A failing round is
    logged and retried at the next one: every round starts again from the stored state."""

    def __init__(self, name: str, work: Callable[[], Awaitable[object]], seconds: float) -> None:
        self.name = name
        self.work = work
        self.seconds = seconds
        self.rounds = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.work()
                self.rounds += 1
            except Exception as exc:
                self.failures += 1
                log.warning("background round failed", loop=self.name, error=repr(exc))
            await asyncio.sleep(self.seconds)
