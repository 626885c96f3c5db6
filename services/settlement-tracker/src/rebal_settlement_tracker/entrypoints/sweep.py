"""The clock-driven entry point, every `settlement_sweep_seconds`: time out the runs whose
deadline passed (`run_timeout_seconds`), settle what has come due, then refuse the cancels kept
for runs that never came (`pending_cancel_seconds`).

Fills settle in the handler that records them when they are already due (T+0); everything else
waits for this loop to reach its settlement date. A run either sweep cannot move is logged,
counted and skipped (`service_layer/sweeps.py`), so it holds up neither the runs after it nor the
settlements after the timeouts; a failing round (store down, ...) is logged and the next one tries
again.
"""

from __future__ import annotations

from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import PeriodicTask
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers

log = get_logger(__name__)


class SettlementSweep:
    def __init__(
        self, handlers: SettlementHandlers, interval_seconds: float, clock: Clock | None = None
    ) -> None:
        self.handlers = handlers
        self.interval_seconds = interval_seconds
        self.rounds = 0
        # it sleeps on the clock the handlers read: a fake clock moves both
        self.task = PeriodicTask(
            "settlement-sweep",
            self.run_once,
            interval_seconds,
            clock if clock is not None else handlers.clock,
        )

    async def run_once(self) -> int:
        timed_out = await self.handlers.time_out_due()
        produced = timed_out + await self.handlers.settle_due()
        produced += await self.handlers.expire_kept_cancels()
        self.rounds += 1
        if produced:
            log.info("settlement sweep", events=produced, timeout_events=timed_out)
        return produced

    async def start(self) -> None:
        await self.task.start()

    async def stop(self) -> None:
        await self.task.stop()
