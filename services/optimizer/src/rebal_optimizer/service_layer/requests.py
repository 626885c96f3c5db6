"""rebalance.requested: scope `portfolio` is evaluated; scope `model` / `all` fans out one
scope-portfolio request per portfolio (fanout.py).

Every scope-portfolio request is answered (docs/design.md §3 "Triggers and evaluation"): with the
optimization, or a NOT_RECOMMENDED decision record naming the rule that held it (an empty
portfolio: NO_PORTFOLIO_VALUE; a slot evaluated already: SLOT_ALREADY_EVALUATED), and a client's
request (manual, or initiated outside rebal) refused by a rule also with `request.rejected`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from rebal_optimizer.domain import PortfolioAccount, waiting_token
from rebal_optimizer.domain import TriggerReason as Why
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.evaluation import OptimizerConfig
from rebal_optimizer.service_layer.fanout import FanoutSink, fan_out
from rebal_optimizer.service_layer.patches import unknown_portfolio
from rebal_optimizer.service_layer.ports import PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.resumption import Evaluate
from rebal_optimizer.service_layer.unit_of_work import Outcome, Step
from rebal_runtime.log import get_logger
from rebal_runtime.store import DocumentStore
from rebal_schemas import PoisonMessage, Reason, RebalanceRequested, RunInitiator

log = get_logger(__name__)
SLOT_ALREADY_EVALUATED = "SLOT_ALREADY_EVALUATED"


def is_client_request(event: RebalanceRequested) -> bool:
    """A manual run, or a request initiated outside rebal: a rule that holds it refuses it."""
    return event.reason.value == Why.MANUAL or event.initiated_from is not RunInitiator.system


class Requests:
    def __init__(
        self,
        store: DocumentStore,
        fanout: FanoutSink,
        queries: PortfolioQueries,
        reference: ReferenceData,
        config: OptimizerConfig,
        evaluate: Evaluate,
    ) -> None:
        self.store = store
        self.fanout = fanout
        self.queries = queries
        self.reference = reference
        self.config = config
        self.evaluate = evaluate

    def step(self, event: RebalanceRequested) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id or "")
            options: dict[str, Any] = {
                "explicit": True,  # answered even when the portfolio is empty
                "rejects": is_client_request(event),
                "run_type": event.run_type.value if event.run_type else "full_rebalance",
                "initiated_from": event.initiated_from,
            }
            taken = record.take_slot(event.slot_id)
            trigger = inputs.trigger(event)
            if taken is None:
                log.info("slot already evaluated", slot_id=event.slot_id)
                reason = Reason(code=SLOT_ALREADY_EVALUATED, detail=event.slot_id or "")
                return await self.evaluate(record, trigger, event, answer_only=reason, **options)
            if trigger.reason is Why.MODEL_CHANGED and trigger.model_id is not None:
                token = waiting_token("model", trigger.model_id)
                if taken.portfolio.resumed_trigger(token) is not None:
                    trigger = replace(trigger, waited_for=token)
            return await self.evaluate(taken, trigger, event, **options)

        return step

    async def fan_out(self, event: RebalanceRequested) -> int:
        if event.scope == "model":
            assert event.model_id is not None
            if not await self.reference.has_model(event.model_id):
                raise PoisonMessage(
                    f"unknown model {event.model_id!r} in rebalance.requested {event.event_id}"
                )
        return await fan_out(
            self.store,
            self.fanout,
            event,
            batch=self.config.fanout_batch,
            producer=self.config.producer,
            queries=self.queries,
        )

    async def batch(
        self,
        events: Sequence[RebalanceRequested],
        update_many: Callable[[Sequence[Any]], Awaitable[list[Outcome | None]]],
    ) -> list[Outcome | int | None]:
        """Scope portfolio (a nightly batch's fan-out children, mostly): evaluated together.
        Scope model/all: each fanned out; returns how many children it published."""
        results: list[Outcome | int | None] = [None] * len(events)
        mine = [i for i, e in enumerate(events) if e.scope == "portfolio"]
        # the schema requires portfolio_id for scope portfolio
        outcomes = await update_many(
            [(events[i], events[i].portfolio_id or "", self.step(events[i])) for i in mine]
        )
        for index, outcome in zip(mine, outcomes, strict=True):
            results[index] = outcome
        for index, event in enumerate(events):
            if event.scope != "portfolio":
                results[index] = await self.fan_out(event)
        return results
