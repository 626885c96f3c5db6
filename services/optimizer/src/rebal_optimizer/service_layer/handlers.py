"""The optimizer's handlers: one per message type. Each loads the portfolio account (through
`PortfolioUnitOfWork`, exactly once per event), calls the domain, translates the answer into
messages and commits; storage is reached through the ports in ports.py (wired in bootstrap.py).
The steps live beside: patches.py (portfolio.patched), requests.py (rebalance.requested),
models.py (model.updated, ineligible symbols), lifecycle.py (external optimizations, runs),
owner.py (the owner's choice, the advisory expiry), subscriptions.py (their governance).

Aggregates: `portfolios` (one document per portfolio, with its optimization awaiting the owner and
its block), `models`, `prices` (one document per symbol) and the append-only `optimizations`
history. Fate of an input:
- a fact about a portfolio that does not exist (holdings, deposit, withdrawal, decision, run,
  external optimization), a model or settings the domain refuses -> `PoisonMessage` with the
  reason (dead.letter);
- a valid request a rule refuses (a manual run while blocked or with own weights while
  subscribed, a second subscription of an account, a subscription to an inactive model,
  deactivating a model in use, a choice on an expired or unknown optimization) ->
  `request.rejected` with the rule's code (rejections.py);
- settings that subscribe to a model the optimizer has not seen yet -> ACCEPTED and kept pending
  for `model_wait` (subscriptions.py): the portfolio is not optimized ("no_target_weights" in its
  decision record) until the model arrives; the model's arrival re-evaluates its subscribers;
- a redelivery -> no-op (inbox); a repeated deposit_id or external optimization id -> no-op as
  well, a repeated scheduler slot -> answered SLOT_ALREADY_EVALUATED;
- an evaluation that missed a price or the model -> the portfolio remembers what it waits for
  (index `waiting_for`) and the trigger; the arrival of that price (or model) evaluates it again
  under that trigger, and the new decision record starts with `waited_for`.
Every evaluation publishes its decision record (optimization.created, NOT_RECOMMENDED with the
rule when it starts no run).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rebal_optimizer.domain import DomainError, PortfolioAccount, Trigger, waiting_token
from rebal_optimizer.domain.trading_days import TradingCalendar
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator, OptimizerConfig
from rebal_optimizer.service_layer.fanout import FanoutSink
from rebal_optimizer.service_layer.lifecycle import Lifecycle, RunOutcome
from rebal_optimizer.service_layer.models import ModelCatalog
from rebal_optimizer.service_layer.owner import OwnerChoices
from rebal_optimizer.service_layer.patches import Patches
from rebal_optimizer.service_layer.ports import StorePorts
from rebal_optimizer.service_layer.requests import Requests
from rebal_optimizer.service_layer.resumption import Resumption
from rebal_optimizer.service_layer.subscriptions import Subscriptions
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork, Step, Work
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.store import DocumentStore
from rebal_schemas import (
    Event,
    ModelUpdated,
    OptimizationDecided,
    OptimizationSubmitted,
    PoisonMessage,
    PriceUpdated,
    Reason,
    RebalanceRequested,
    RunCompleted,
    RunInitiator,
    RunSettled,
    RunType,
    TransactionSettled,
    TriggerReason,
)
from rebal_schemas.events.portfolio import PortfolioEvent

log = get_logger(__name__)


class OptimizerHandlers:
    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        calendar: TradingCalendar,
        config: OptimizerConfig,
        fanout: FanoutSink,
        ports: StorePorts,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.fanout = fanout
        self.queries = ports.queries
        self.reference = ports.reference
        self.portfolios = PortfolioUnitOfWork(store, ports.documents, config.history_enabled)
        self.evaluator = Evaluator(self.reference, self.portfolios, calendar, config)
        self.models = ModelCatalog(
            self.reference, self.queries, self.portfolios.load, config.producer
        )
        self.lifecycle = Lifecycle(
            self.portfolios, self.evaluator, self.queries, self.reference, config
        )
        self.owner = OwnerChoices(self.portfolios, self.evaluator, self.queries, config)
        self.subscriptions = Subscriptions(
            self.queries, self.reference, ports.claims, self.portfolios.update, config
        )
        self.patches = Patches(self.reference, self.subscriptions, clock, self._evaluate)
        self.requests = Requests(
            store, fanout, self.queries, self.reference, config, self._evaluate
        )
        self.resumption = Resumption(
            self.queries, self.reference, self.portfolios, clock, config, self._evaluate
        )

    # -- portfolio.patched --------------------------------------------------------------------

    async def portfolio_patched(self, event: PortfolioEvent) -> Outcome | None:
        return (await self.portfolio_patched_batch([event]))[0]

    async def portfolio_patched_batch(
        self, events: Sequence[PortfolioEvent]
    ) -> list[Outcome | None]:
        """A batch subscriber's list, in order: one store read and one write for all of it."""
        return await self._update_many([(e, e.portfolio_id, self.patches.step(e)) for e in events])

    # -- model.updated, market.prices ------------------------------------------------------

    async def model_updated(self, event: ModelUpdated) -> bool:
        return await self.models.model_updated(event)

    async def price_updated(self, event: PriceUpdated) -> bool:
        quote = inputs.price(event)
        # A symbol that becomes ineligible: its models need adjustment, before the price is kept.
        await self.models.price_ineligible(event, quote)
        # An older or equal quote never replaces the last one.
        applied = await self.reference.save_price(event.symbol, quote, event.event_id)
        # Also on a redelivery: a crash may have come between the price and the resumptions;
        # each portfolio's inbox drops the ones already done.
        await self.resumption.resume_waiting(
            waiting_token("price", event.symbol), event, self._update_many
        )
        return applied

    # -- rebalance.requested -------------------------------------------------------------------

    async def rebalance_requested(self, event: RebalanceRequested) -> Outcome | int | None:
        return (await self.rebalance_requested_batch([event]))[0]

    async def rebalance_requested_batch(
        self, events: Sequence[RebalanceRequested]
    ) -> list[Outcome | int | None]:
        """Scope portfolio: evaluated together; scope model/all: fanned out (requests.py)."""
        return await self.requests.batch(events, self._update_many)

    # -- optimization.submitted / .decided, run.completed / .settled, expiry --------------------

    async def optimization_submitted(self, event: OptimizationSubmitted) -> Outcome | None:
        return await self.lifecycle.submitted(event, self.clock.now())

    async def optimization_decided(self, event: OptimizationDecided) -> Outcome | None:
        return await self.owner.decided(event, self.clock.now())

    async def run_completed(self, event: RunCompleted) -> Outcome | None:
        return await self.lifecycle.run_completed(event, self.clock.now())

    async def run_settled(self, event: RunSettled) -> Outcome | None:
        return await self.lifecycle.run_settled(event, self.clock.now())

    async def transaction_settled(self, event: TransactionSettled) -> Outcome | None:
        return await self.lifecycle.transaction_settled(event)

    async def run_outcomes(self, events: Sequence[RunOutcome]) -> None:
        """A batch of the run topics (run.completed, run.settled, transaction.settled) mixed,
        each event's step in the order it came, as one at a time, with one store read and one
        write per round (a round takes one event of each portfolio); most of its events (transaction.settled that is not late) are
        read and dropped. A redelivered batch is applied once (each event's inbox)."""
        await self.lifecycle.run_outcomes(events, self.clock.now())

    async def expire_due(self, now: datetime | None = None) -> int:
        """The clock-driven sweep: advisory optimizations past their deadline expire (returns
        how many), subscriptions whose model did not arrive in time are refused."""
        now = now if now is not None else self.clock.now()
        expired = await self.owner.expire_due(now)
        await self.subscriptions.refuse_overdue(now)
        return expired

    # -- common -------------------------------------------------------------------------------

    async def _evaluate(
        self,
        record: PortfolioAccount,
        trigger: Trigger,
        cause: Event,
        *,
        explicit: bool = False,
        rejects: bool = False,
        run_type: str = "full_rebalance",
        initiated_from: RunInitiator = RunInitiator.system,
        optimization_id: str | None = None,
        answer_only: Reason | None = None,
    ) -> Outcome:
        """`answer_only`: not evaluated, answered NOT_RECOMMENDED with this reason."""
        answer = Answer(
            cause,
            initiated_from,
            explicit=explicit,
            rejects=rejects,
            run_type=RunType(run_type),
            trigger=TriggerReason(str(trigger.reason)),
            optimization_id=optimization_id,
        )
        if answer_only is not None:
            return self.evaluator.not_evaluated(record, answer, answer_only)
        return await self.evaluator.evaluate(record, trigger, answer, self.clock.now())

    async def _update_many(self, items: Sequence[tuple[Event, str, Step]]) -> list[Outcome | None]:
        works = [
            Work(portfolio_id, event.event_id, _refusing(event, step))
            for event, portfolio_id, step in items
        ]
        with self.reference.snapshot():  # the batch reads each model and price once
            outcomes = await self.portfolios.update_many(works)
        for (event, _, _), outcome in zip(items, outcomes, strict=True):
            if outcome is not None and outcome.needs_adjustment is not None:
                model_id, symbols = outcome.needs_adjustment
                await self.models.mark_needs_adjustment(model_id, symbols, event.event_id)
        await self.resumption.arrived_meanwhile(items, outcomes)
        return outcomes


def _refusing(event: Event, step: Step) -> Step:
    """The step, with the domain's refusal turned into a dead letter naming the event."""

    async def guarded(record: PortfolioAccount | None) -> Outcome | None:
        try:
            return await step(record)
        except DomainError as error:
            raise PoisonMessage(f"{event.event_type} {event.event_id}: {error.reason}") from error

    return guarded
