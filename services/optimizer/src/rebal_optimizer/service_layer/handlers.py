"""The optimizer's handlers: one per message type. Each loads the portfolio account (through
`PortfolioUnitOfWork`, exactly once per event), calls the domain, translates the answer into
messages and commits; storage is reached through the ports in ports.py (wired in bootstrap.py).

Aggregates: `portfolios` (one document per portfolio, with its optimization awaiting the owner and
its block), `models`, `prices` (one document per symbol) and the append-only `optimizations`
history. Fate of an input:
- a fact about a portfolio that does not exist (holdings, deposit, withdrawal, decision, run,
  external optimization), a decision on an optimization that is not waiting for one, a model or
  settings the domain refuses -> `PoisonMessage` with the reason (dead.letter);
- settings that subscribe to a model the optimizer has not seen yet -> ACCEPTED and kept pending:
  model.updated and portfolio.patched are different topics with no order between them, so a client
  that creates a model and subscribes to it at once must not depend on which one is read first.
  The portfolio is not optimized ("no_target_weights" in its decision record) until the model
  arrives; the model's arrival re-evaluates its subscribers;
- a redelivery -> no-op (inbox); a repeated deposit_id, slot_id or external optimization id
  -> no-op as well.
- an evaluation that missed a price or the model -> the portfolio remembers what it waits for
  (index `waiting_for`) and the trigger; the arrival of that price (or model) evaluates it again
  under that trigger, and the new decision record starts with `waited_for`.

Cash semantics: `cash_deposited` adds to cash in both broker integrations; a holdings snapshot
replaces holdings and cash (an older snapshot than the last one is ignored); a delta adds. An
empty portfolio (no holdings, no cash) is stored but not evaluated: a new subscription waits for
the first funding. `withdrawal_requested` sets the total to raise (`full`: the portfolio's value
at the last prices) and is answered even when nothing can be done (NOT_RECOMMENDED + reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from rebal_optimizer.domain import (
    DomainError,
    PortfolioAccount,
    Trigger,
    waiting_token,
)
from rebal_optimizer.domain import TriggerReason as Why
from rebal_optimizer.domain.trading_days import TradingCalendar
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator, OptimizerConfig
from rebal_optimizer.service_layer.fanout import FanoutSink, fan_out
from rebal_optimizer.service_layer.lifecycle import Lifecycle
from rebal_optimizer.service_layer.models import ModelCatalog
from rebal_optimizer.service_layer.ports import StorePorts
from rebal_optimizer.service_layer.resumption import Resumption
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork, Step, Work
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.store import DocumentStore
from rebal_schemas import (
    CashDeposited,
    Event,
    HoldingsReported,
    ModelUpdated,
    OptimizationDecided,
    OptimizationSubmitted,
    PoisonMessage,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RunCompleted,
    RunInitiator,
    RunType,
    TriggerReason,
    WithdrawalRequested,
)
from rebal_schemas.events.portfolio import PortfolioEvent

log = get_logger(__name__)


def unknown_portfolio(event: Event, portfolio_id: str) -> PoisonMessage:
    return PoisonMessage(
        f"unknown portfolio {portfolio_id!r} in {event.event_type} "
        f"{event.event_id}: publish portfolio.settings_changed first"
    )


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
        self.models = ModelCatalog(self.reference, config.producer)
        self.lifecycle = Lifecycle(
            self.portfolios, self.evaluator, self.queries, self.reference, config
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
        return await self._update_many([(e, e.portfolio_id, self._patch_step(e)) for e in events])

    def _patch_step(self, event: PortfolioEvent) -> Step:
        if isinstance(event, PortfolioSettingsChanged):
            return self._settings_changed(event)
        if isinstance(event, HoldingsReported):
            return self._holdings_reported(event)
        if isinstance(event, CashDeposited):
            return self._cash_deposited(event)
        if isinstance(event, WithdrawalRequested):
            return self._withdrawal_requested(event)
        raise PoisonMessage(f"unsupported portfolio event {event.event_type}")

    def _settings_changed(self, event: PortfolioSettingsChanged) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome:
            if record is None:
                record = PortfolioAccount.create(event.portfolio_id, event.account_id)
            settings = inputs.patched_settings(record.portfolio.settings, event)
            changed = record.change_settings(settings, event.account_id)
            return await self._evaluate(changed, Trigger(Why.SETTINGS), event)

        return step

    def _holdings_reported(self, event: HoldingsReported) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            updated, paid = record.report_holdings(
                event.holdings,
                snapshot=event.mode == "snapshot",
                cash=event.cash,
                as_of=event.as_of,
            )
            if updated is None:
                log.info("holdings unchanged (older snapshot or empty delta)")
                return None
            if paid > 0:
                pending = record.portfolio.pending_withdrawal
                log.info("withdrawal paid out", amount=str(paid), pending=str(pending))
            return await self._evaluate(updated, Trigger(Why.HOLDINGS), event)

        return step

    def _cash_deposited(self, event: CashDeposited) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            updated = record.deposit(event.amount, event.deposit_id)
            if updated is None:
                log.info("deposit already applied", deposit_id=event.deposit_id)
                return None
            return await self._evaluate(updated, Trigger(Why.DEPOSIT), event)

        return step

    def _withdrawal_requested(self, event: WithdrawalRequested) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            amount = event.amount
            if amount is None:  # `full`: everything the portfolio is worth at the last prices
                prices = await self.reference.prices(record.portfolio.holdings)
                amount = record.full_withdrawal_amount(prices)
            updated = record.request_withdrawal(amount)
            return await self._evaluate(
                updated, Trigger(Why.WITHDRAWAL), event, explicit=True, run_type="withdrawal"
            )

        return step

    # -- model.updated, market.prices ------------------------------------------------------

    async def model_updated(self, event: ModelUpdated) -> bool:
        return await self.models.model_updated(event)

    async def price_updated(self, event: PriceUpdated) -> bool:
        quote = inputs.price(event)
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
        """Scope portfolio (a nightly batch's fan-out children, mostly): evaluated together.
        Scope model/all: each fanned out; returns how many children it published."""
        results: list[Outcome | int | None] = [None] * len(events)
        mine = [i for i, e in enumerate(events) if e.scope == "portfolio"]
        # the schema requires portfolio_id for scope portfolio
        outcomes = await self._update_many(
            [(events[i], events[i].portfolio_id or "", self._requested(events[i])) for i in mine]
        )
        for index, outcome in zip(mine, outcomes, strict=True):
            results[index] = outcome
        for index, event in enumerate(events):
            if event.scope != "portfolio":
                results[index] = await self._fan_out(event)
        return results

    async def _fan_out(self, event: RebalanceRequested) -> int:
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

    def _requested(self, event: RebalanceRequested) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id or "")
            taken = record.take_slot(event.slot_id)
            if taken is None:
                log.info("slot already evaluated", slot_id=event.slot_id)
                return None
            record = taken
            manual = event.reason.value == Why.MANUAL
            trigger = inputs.trigger(event)
            if trigger.reason is Why.MODEL_CHANGED and trigger.model_id is not None:
                token = waiting_token("model", trigger.model_id)
                if record.portfolio.resumed_trigger(token) is not None:
                    trigger = replace(trigger, waited_for=token)
            return await self._evaluate(
                record,
                trigger,
                event,
                explicit=manual,
                run_type=event.run_type.value if event.run_type else "full_rebalance",
                initiated_from=event.initiated_from,
            )

        return step

    # -- optimization.submitted / .decided, run.completed, expiry -------------------------------

    async def optimization_submitted(self, event: OptimizationSubmitted) -> Outcome | None:
        return await self.lifecycle.submitted(event, self.clock.now())

    async def optimization_decided(self, event: OptimizationDecided) -> Outcome | None:
        return await self.lifecycle.decided(event, self.clock.now())

    async def run_completed(self, event: RunCompleted) -> Outcome | None:
        return await self.lifecycle.run_completed(event, self.clock.now())

    async def expire_due(self, now: datetime | None = None) -> int:
        return await self.lifecycle.expire_due(now if now is not None else self.clock.now())

    # -- common -------------------------------------------------------------------------------

    async def _evaluate(
        self,
        record: PortfolioAccount,
        trigger: Trigger,
        cause: Event,
        *,
        explicit: bool = False,
        run_type: str = "full_rebalance",
        initiated_from: RunInitiator = RunInitiator.system,
        optimization_id: str | None = None,
    ) -> Outcome:
        answer = Answer(
            cause,
            initiated_from,
            explicit=explicit,
            run_type=RunType(run_type),
            trigger=TriggerReason(str(trigger.reason)),
            optimization_id=optimization_id,
        )
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
