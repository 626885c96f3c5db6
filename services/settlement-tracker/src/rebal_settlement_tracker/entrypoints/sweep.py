"""The clock-driven entry point: settle what has come due, every `settlement_sweep_seconds`.

Fills settle in the handler that records them when they are already due (T+0); everything else
waits for this loop to reach its settlement date.
"""

from __future__ import annotations

import asyncio
import contextlib

from rebal_runtime.log import get_logger
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers

log = get_logger(__name__)


class SettlementSweep:
    def __init__(self, handlers: SettlementHandlers, interval_seconds: float) -> None:
        self.handlers = handlers
        self.interval_seconds = interval_seconds
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> int:
        produced = await self.handlers.settle_due()
        self.rounds += 1
        if produced:
            log.info("settlement sweep", events=produced)
        return produced

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="settlement-sweep")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # store down, ...: the next round tries again
                log.warning("settlement sweep failed; will retry", error=repr(exc))
            await asyncio.sleep(self.interval_seconds)
