"""Evaluations resumed when the price or model they waited for arrives (domain/waiting.py).

A portfolio that waits is indexed under `waiting_for` (`price:SPY`); the price handler looks
them up after storing the price and evaluates each again under its remembered trigger, in
batches. Both sides act after their own commit: the price handler looks for waiting portfolios
after the price is stored, and a batch that left portfolios waiting for a price looks at that
price again after committing them. Whichever commits second sees the other, so a price that
lands between an evaluation's read and its commit is never missed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rebal_optimizer.domain import PortfolioAccount, TriggerReason
from rebal_optimizer.domain.prices import valuation_problems
from rebal_optimizer.service_layer.evaluation import OptimizerConfig
from rebal_optimizer.service_layer.messages import derived_id, optimization_id_for
from rebal_optimizer.service_layer.ports import PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork, Step, Work
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_schemas import Event

log = get_logger(__name__)

Evaluate = Callable[..., Awaitable[Outcome]]
Items = Sequence[tuple[Event, str, Step]]
UpdateMany = Callable[[Items], Awaitable[list[Outcome | None]]]


class Resumption:
    def __init__(
        self,
        queries: PortfolioQueries,
        reference: ReferenceData,
        portfolios: PortfolioUnitOfWork,
        clock: Clock,
        config: OptimizerConfig,
        evaluate: Evaluate,
    ) -> None:
        self.queries = queries
        self.reference = reference
        self.portfolios = portfolios
        self.clock = clock
        self.config = config
        self.evaluate = evaluate

    def step(self, token: str, cause: Event, optimization_id: str | None = None) -> Step:
        """Evaluate the portfolio under its remembered trigger, if it still waits for `token`."""

        async def resume(record: PortfolioAccount | None) -> Outcome | None:
            trigger = record.portfolio.resumed_trigger(token) if record is not None else None
            if record is None or trigger is None:
                return None  # no longer waiting for it (evaluated meanwhile)
            run_type = (
                "withdrawal"
                if trigger.reason is TriggerReason.WITHDRAWAL
                else (str(trigger.run_type) if trigger.run_type else "full_rebalance")
            )
            options: dict[str, Any] = {"run_type": run_type, "optimization_id": optimization_id}
            return await self.evaluate(record, trigger, cause, **options)

        return resume

    async def resume_waiting(self, token: str, cause: Event, update_many: UpdateMany) -> int:
        """Every portfolio waiting for `token`, evaluated again; each portfolio's inbox makes a
        redelivered cause a no-op for the ones already done."""
        after: str | None = None
        resumed = 0
        limit = self.config.fanout_batch
        while True:
            ids = await self.queries.waiting(token, after=after, limit=limit)
            if ids:
                outcomes = await update_many([(cause, pid, self.step(token, cause)) for pid in ids])
                resumed += sum(1 for outcome in outcomes if outcome is not None)
                after = ids[-1]
            if len(ids) < limit:
                if resumed:
                    log.info("resumed waiting portfolios", waited_for=token, portfolios=resumed)
                return resumed

    async def arrived_meanwhile(self, items: Items, outcomes: Sequence[Outcome | None]) -> None:
        """After a batch committed portfolios as waiting for a price: is that price here now?"""
        waits = [
            (event, outcome.record.portfolio_id, waiting)
            for (event, _, _), outcome in zip(items, outcomes, strict=True)
            if outcome is not None
            and (waiting := outcome.record.portfolio.waiting_for) is not None
            and waiting.kind == "price"
        ]
        if not waits:
            return
        prices = await self.reference.prices({waiting.key for _, _, waiting in waits})
        now = self.clock.now()
        usable = {
            symbol
            for symbol in prices
            if not valuation_problems([symbol], prices, now, self.config.max_price_age)
        }
        works = []
        for event, pid, waiting in waits:
            if waiting.key in usable:
                cause_id = derived_id(event.event_id, "resumed")  # a step of its own, once
                step = self.step(waiting.token, event, optimization_id_for(cause_id, pid))
                works.append(Work(pid, cause_id, step))
        if works:
            await self.portfolios.update_many(works)
