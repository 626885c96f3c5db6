"""After an optimization exists: external submissions, the run's outcome (run.completed,
run.settled: domain/runs.py) and its late fills (transaction.settled `late`). The owner's choice
and the advisory expiry: owner.py.

The run's outcome that unblocks the portfolio evaluates, once, in the same step: a run stopped at
its start because its prices moved (`replan`) again under its optimization's trigger, its decision
record saying so (`REPLANNED`, the old run id); otherwise the calendar slot deferred while it was
blocked (domain/deferral.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeAlias

from rebal_optimizer.domain import (
    Clamp,
    Initiator,
    LateFill,
    PortfolioAccount,
    RunResult,
    RunStep,
    Side,
    Trigger,
    late_fill,
    run_completed,
    run_settled,
)
from rebal_optimizer.domain import TriggerReason as Why
from rebal_optimizer.domain.reasons import REPLANNED
from rebal_optimizer.service_layer import inputs, retry_runs
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator, OptimizerConfig
from rebal_optimizer.service_layer.external import not_recommended_external
from rebal_optimizer.service_layer.ports import PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.tax_lots import run_fills
from rebal_optimizer.service_layer.unit_of_work import (
    Outcome,
    PortfolioUnitOfWork,
    Work,
    known_work,
    update_known,
)
from rebal_runtime.log import get_logger
from rebal_schemas import (
    OptimizationSubmitted,
    OptimizerMode,
    PortfolioRunType,
    Reason,
    RunCompleted,
    RunInitiator,
    RunSettled,
    RunType,
    TransactionSettled,
    TriggerReason,
)

log = get_logger(__name__)
EXPIRY_PAGE = 500

RunOutcome: TypeAlias = RunCompleted | RunSettled | TransactionSettled
"""An event of the run topics the settlement-tracker reports a run's end on."""


class Lifecycle:
    def __init__(
        self,
        portfolios: PortfolioUnitOfWork,
        evaluator: Evaluator,
        queries: PortfolioQueries,
        reference: ReferenceData,
        config: OptimizerConfig,
    ) -> None:
        self.portfolios = portfolios
        self.evaluator = evaluator
        self.queries = queries
        self.reference = reference
        self.config = config

    # -- optimization.submitted (external optimizer) --------------------------------------------

    async def submitted(self, event: OptimizationSubmitted, now: datetime) -> Outcome | None:
        external_id = event.external_optimization_id

        async def step(record: PortfolioAccount | None) -> Outcome | None:
            assert record is not None
            taken = record.take_external(external_id)
            if taken is None:
                log.info("external optimization already submitted", external_id=external_id)
                return None
            record = taken
            answer = Answer(
                event,
                RunInitiator.api,
                OptimizerMode.EXTERNAL,
                explicit=True,
                rejects=True,
                trigger=TriggerReason.external,
                extra_reasons=event.reasons,
                optimization_id=external_id,
            )
            if not event.is_recommended:
                return Outcome(
                    record, [not_recommended_external(record, event, self.config.producer)]
                )
            prices = await self.reference.prices({o.symbol for o in event.orders})
            evaluation = record.submit_external(
                inputs.external_orders(event, prices),
                prices,
                optimization_id=external_id,
                now=now,
                max_price_age=self.config.max_price_age,
                client_holdings_wait=self.config.client_holdings_wait,
            )
            return self.evaluator.outcome(record, evaluation, answer, now)

        return await update_known(self.portfolios, event, event.portfolio_id, step)

    # -- run.completed, run.settled -------------------------------------------------------------

    async def run_completed(self, event: RunCompleted, now: datetime) -> Outcome | None:
        return await self._apply(self.run_completed_work(event, now))

    async def run_settled(self, event: RunSettled, now: datetime) -> Outcome | None:
        return await self._apply(self.run_settled_work(event, now))

    async def transaction_settled(self, event: TransactionSettled) -> Outcome | None:
        work = self.late_fill_work(event)
        return await self._apply(work) if work is not None else None

    async def run_outcomes(self, events: Sequence[RunOutcome], now: datetime) -> None:
        """A batch of the run topics, mixed: each event's step in the order it came, with one
        store read and one write per round for them all (`update_many`: as one at a time)."""
        works = [self._outcome_work(event, now) for event in events]
        await self.portfolios.update_many([work for work in works if work is not None])

    def _outcome_work(self, event: RunOutcome, now: datetime) -> Work | None:
        if isinstance(event, RunCompleted):
            return self.run_completed_work(event, now)
        if isinstance(event, RunSettled):
            return self.run_settled_work(event, now)
        return self.late_fill_work(event)

    async def _apply(self, work: Work) -> Outcome | None:
        return await self.portfolios.update(work.portfolio_id, work.event_id, work.step)

    def run_completed_work(self, event: RunCompleted, now: datetime) -> Work:
        """Every order is final: the trades are applied (once), a full rebalance starts the
        cooldown on the completion's trading day; unblocked here under `unblock_on=execution`."""
        completed_on = None
        if event.type is PortfolioRunType.full_rebalance:
            completed_on = self.evaluator.calendar.today(event.completed_at or event.updated_at)
        unblock = self.config.unblock_on == "execution"
        run = _result(event)
        return self._run_outcome(
            event,
            lambda record: run_completed(record, run, completed_on=completed_on, unblock=unblock),
            now,
        )

    def run_settled_work(self, event: RunSettled, now: datetime) -> Work:
        """Every transaction is final: unblocked, and the trades applied if run.completed was not
        read yet (run.settled carries them too)."""
        executed = event.last_execution_at
        executed_on = self.evaluator.calendar.today(executed) if executed is not None else None
        run = _result(event)
        return self._run_outcome(
            event, lambda record: run_settled(record, run, executed_on=executed_on), now
        )

    def _run_outcome(
        self,
        event: RunCompleted | RunSettled,
        take: Callable[[PortfolioAccount], RunStep | None],
        now: datetime,
    ) -> Work:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            assert record is not None
            done = take(record)
            account = done.account if done is not None else record
            if isinstance(event, RunCompleted):  # its unfilled legs, for a retry (retries.py)
                account = retry_runs.noted(account, event)
            if done is None and account != record:
                return await self._retry_if_due(account, event, now) or Outcome(account)
            if done is None:
                log.info(
                    "run outcome changes nothing: applied already, or not the blocking run",
                    optimization_id=event.optimization_id,
                    blocked_by=record.portfolio.blocked_by,
                )
                return None
            done = replace(done, account=account)
            _log_clamps(done.clamps, "executed sale exceeds the holding; clamped")
            log.info(
                "run outcome applied",
                optimization_id=event.optimization_id,
                run_status=event.status.value,
                trades_applied=done.applied,
                unblocked=done.unblocked,
            )
            if done.replan is not None:
                return await self._replan(done.account, done.replan, event, now)
            retried = await self._retry_if_due(done.account, event, now)
            if retried is not None:
                return retried
            deferred = done.account.portfolio.deferred
            if not done.unblocked or deferred is None or not deferred.at_unblock:
                return Outcome(done.account)
            # the calendar slot it could not take while blocked: evaluated now, once
            trigger = Trigger(Why.CALENDAR, model_id=deferred.model_id)
            answer = Answer(event, RunInitiator.system, trigger=TriggerReason.calendar)
            return await self.evaluator.evaluate(done.account, trigger, answer, now)

        return known_work(event, event.portfolio_id, step)

    async def _replan(
        self,
        record: PortfolioAccount,
        trigger: Trigger,
        event: RunCompleted | RunSettled,
        now: datetime,
    ) -> Outcome:
        """The run was stopped at its start (its prices moved) and nothing was sent: the
        portfolio is planned again under its optimization's trigger (a deferred calendar slot
        counts as the trigger's own when it is automatic). Always answered (`explicit`)."""
        log.info("re-plan", run_id=event.run_id, trigger=str(trigger.reason))
        replanned = Reason(code=REPLANNED, detail=f"run {event.run_id}: prices moved at its start")
        system = trigger.initiated_from is Initiator.SYSTEM
        answer = Answer(
            event,
            RunInitiator.system if system else RunInitiator.api,
            explicit=True,
            run_type=RunType(trigger.run_type.value)
            if trigger.run_type
            else RunType.full_rebalance,
            trigger=TriggerReason(trigger.reason.value),
            extra_reasons=(replanned,),
        )
        return await self.evaluator.evaluate(record, trigger, answer, now)

    async def _retry_if_due(
        self, record: PortfolioAccount, event: RunCompleted | RunSettled, now: datetime
    ) -> Outcome | None:
        return await retry_runs.retry_if_due(self.evaluator, self.reference, record, event, now)

    # -- transaction.settled (late fills) -------------------------------------------------------

    def late_fill_work(self, event: TransactionSettled) -> Work | None:
        """A late fill (executed after its run ended, not in its run.completed) on the PLATFORM
        book, once per run and leg; a CLIENT portfolio ignores it (the client's holdings snapshot
        is the truth), as every fill that is not late (its run's outcome carries it)."""
        if not event.late:
            return None
        fill = LateFill(
            event.run_id,
            event.leg,
            event.symbol,
            Side(event.side.value),
            event.qty,
            event.avg_price,
        )

        async def step(record: PortfolioAccount | None) -> Outcome | None:
            assert record is not None
            done = late_fill(record, fill)
            if done is None:
                log.info("late fill not applied: CLIENT book, or applied already", key=fill.key)
                return None
            _log_clamps(done.clamps, "late fill exceeds the holding or the cash; clamped")
            log.info("late fill applied", key=fill.key, symbol=fill.symbol, side=str(fill.side))
            return Outcome(done.account)

        return known_work(event, event.portfolio_id, step)


def _log_clamps(clamps: Iterable[Clamp], message: str) -> None:
    for clamp in clamps:
        log.warning(message, symbol=clamp.symbol, delta=str(clamp.delta), held=str(clamp.held))


def _result(event: RunCompleted | RunSettled) -> RunResult:
    return RunResult(
        event.optimization_id,
        event.holdings_delta,
        event.cash_delta,
        event.last_execution_at,
        replan=event.replan,
        fills=run_fills(event),
    )
