"""The stale-block alarm: a portfolio blocked by a run for longer than `stale_block_seconds`.

A READY optimization blocks its portfolio until its run's outcome arrives (run.completed or
run.settled). If that outcome is lost on the way (a broker that lost records, a tracker that
never saw the run), the portfolio would stay blocked in silence. Every `stale_block_check_seconds`
this loop finds the portfolios blocked since before the deadline (`PortfolioQueries.blocked`,
the store index `blocked_at`), reads each through the service layer's `PortfolioUnitOfWork.load`
and logs one error line per portfolio and block, and counts them: `alarms` (blocks alarmed so far)
and `stale` (blocked past the deadline at the last round) are the optimizer's metrics for it;
the service has no metrics endpoint, so the log line is what an operator sees. It unblocks
nothing: only the run's outcome (or an operator) may.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from rebal_optimizer.domain import PortfolioAccount
from rebal_optimizer.service_layer.ports import PortfolioQueries
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.periodic import PeriodicTask

log = get_logger(__name__)
PAGE = 500

Load = Callable[[str], Awaitable[PortfolioAccount | None]]
"""The portfolio account of an id (`PortfolioUnitOfWork.load`), None when there is none."""


class StaleBlockAlarm:
    def __init__(
        self,
        queries: PortfolioQueries,
        load: Load,
        clock: Clock,
        deadline: timedelta,
        every_seconds: float,
    ) -> None:
        self.queries = queries
        self.load = load
        self.clock = clock
        self.deadline = deadline
        self.every_seconds = every_seconds
        self.alarms = 0
        self.stale = 0
        self._alarmed: set[tuple[str, str]] = set()  # (portfolio_id, blocking optimization)
        self.task = PeriodicTask("optimizer-stale-blocks", self.check, every_seconds, clock)

    async def check(self, now: datetime | None = None) -> list[str]:
        """One round; returns the portfolios blocked past the deadline."""
        now = now if now is not None else self.clock.now()
        stale: list[str] = []
        still: set[tuple[str, str]] = set()
        after: str | None = None
        while True:
            ids = await self.queries.blocked(
                after=after, limit=PAGE, at_or_before=now - self.deadline
            )
            for portfolio_id in ids:
                account = await self.load(portfolio_id)
                if account is None:
                    continue
                portfolio = account.portfolio
                blocked_for = portfolio.stale_block(now, self.deadline)
                if blocked_for is None or portfolio.blocked_by is None:
                    continue
                stale.append(portfolio_id)
                key = (portfolio_id, portfolio.blocked_by)
                still.add(key)
                if key not in self._alarmed:
                    self.alarms += 1
                    log.error(
                        "portfolio blocked by a run past the deadline: its outcome may have "
                        "been lost (see the broker's health); it stays blocked until the run "
                        "completes",
                        portfolio_id=portfolio_id,
                        optimization_id=portfolio.blocked_by,
                        blocked_since=portfolio.blocked_at.isoformat()
                        if portfolio.blocked_at
                        else None,
                        blocked_hours=round(blocked_for.total_seconds() / 3600, 2),
                        deadline_hours=round(self.deadline.total_seconds() / 3600, 2),
                    )
            if len(ids) < PAGE:
                break
            after = ids[-1]
        self._alarmed = still  # an unblocked portfolio is forgotten; a new block alarms anew
        self.stale = len(stale)
        return stale

    async def start(self) -> None:
        await self.task.start()

    async def stop(self) -> None:
        await self.task.stop()
