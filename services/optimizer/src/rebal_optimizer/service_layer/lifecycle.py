"""After an optimization exists: external submissions, the owner's choice, run completion and
the expiry of advisory optimizations nobody decided on."""

from __future__ import annotations

from datetime import datetime

from rebal_optimizer.domain import (
    DomainError,
    OptimizationStatus,
    OwnerChoice,
    PortfolioAccount,
)
from rebal_optimizer.service_layer import inputs, messages
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator, OptimizerConfig
from rebal_optimizer.service_layer.ports import PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork, Step
from rebal_runtime.log import get_logger
from rebal_schemas import (
    Event,
    OptimizationDecided,
    OptimizationSubmitted,
    OptimizerMode,
    PlannedOrder,
    PoisonMessage,
    Reason,
    RunCompleted,
    RunInitiator,
    RunType,
    TriggerReason,
)

log = get_logger(__name__)
EXPIRY_PAGE = 500


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

    async def _update(self, event: Event, portfolio_id: str, step: Step) -> Outcome | None:
        async def guarded(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise PoisonMessage(
                    f"unknown portfolio {portfolio_id!r} in {event.event_type} {event.event_id}"
                )
            try:
                return await step(record)
            except DomainError as error:
                raise PoisonMessage(
                    f"{event.event_type} {event.event_id}: {error.reason}"
                ) from error

        return await self.portfolios.update(portfolio_id, event.event_id, guarded)

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
                trigger=TriggerReason.external,
                extra_reasons=event.reasons,
                optimization_id=external_id,
            )
            if not event.is_recommended:
                return Outcome(record, [self._not_recommended_external(record, event)])
            prices = await self.reference.prices({o.symbol for o in event.orders})
            evaluation = record.submit_external(
                inputs.external_orders(event, prices),
                prices,
                optimization_id=external_id,
                now=now,
                max_price_age=self.config.max_price_age,
            )
            return self.evaluator.outcome(record, evaluation, answer, now)

        return await self._update(event, event.portfolio_id, step)

    def _not_recommended_external(
        self, record: PortfolioAccount, event: OptimizationSubmitted
    ) -> Event:
        """The external optimizer itself does not recommend it: recorded, never executed."""
        ranked = sorted(event.orders, key=lambda o: (o.side.value != "sell", o.symbol))
        orders = [
            PlannedOrder(leg=leg, symbol=o.symbol, side=o.side, qty=o.qty, notional=o.notional)
            for leg, o in enumerate(ranked, start=1)
        ]
        settings = record.portfolio.settings
        return messages.not_recommended(
            optimization_id=event.external_optimization_id,
            portfolio_id=record.portfolio_id,
            account_id=record.account_id,
            mandate=str(settings.mandate),
            broker_integration=str(settings.broker_integration),
            run_type=RunType.full_rebalance,
            trigger=TriggerReason.external,
            initiated_from=RunInitiator.api,
            source=OptimizerMode.EXTERNAL,
            decision=(),
            reasons=(Reason(code="NOT_RECOMMENDED_BY_EXTERNAL_OPTIMIZER"), *event.reasons),
            cause=event,
            producer=self.config.producer,
            orders=orders,
        )

    # -- optimization.decided (advisory mandate) ------------------------------------------------

    async def decided(self, event: OptimizationDecided, now: datetime) -> Outcome | None:
        async def step(record: PortfolioAccount | None) -> Outcome:
            assert record is not None
            awaiting = record.awaiting
            if awaiting is None or awaiting.optimization_id != event.optimization_id:
                current = f"awaiting: {awaiting.optimization_id}" if awaiting else "none is"
                raise PoisonMessage(
                    f"optimization {event.optimization_id!r} is not awaiting its owner on "
                    f"portfolio {event.portfolio_id!r} ({current}); {event.owner_choice.value} "
                    f"in {event.event_id} cannot be applied"
                )
            if record.awaiting_expired(now, self.config.advisory_expiry):
                return self._expire(
                    record, event, now, "the owner's choice arrived after the deadline"
                )
            decided, decision = record.decide(OwnerChoice(event.owner_choice.value), now)
            opt = decision.optimization
            producer = self.config.producer
            publish: list[Event] = [
                messages.status_changed(
                    opt, cause=event, producer=producer, owner_choice=event.owner_choice
                )
            ]
            if opt.status is OptimizationStatus.READY:
                publish.append(
                    messages.optimization_ready(
                        opt,
                        account_id=record.account_id,
                        broker_integration=str(record.portfolio.settings.broker_integration),
                        initiated_from=RunInitiator(str(opt.initiated_from)),
                        cause=event,
                        producer=producer,
                    )
                )
            entry = self.portfolios.history_entry(
                record, opt, cause_id=event.event_id, suffix=str(opt.status)
            )
            outcome = Outcome(decided, publish, [entry])
            if decision.reoptimize is not None:
                answer = Answer(
                    event, RunInitiator.api, explicit=True, run_type=RunType(str(opt.run_type))
                )
                again = await self.evaluator.evaluate(decided, decision.reoptimize, answer, now)
                outcome = outcome.extend(again)
            return outcome

        return await self._update(event, event.portfolio_id, step)

    # -- run.completed --------------------------------------------------------------------------

    async def run_completed(self, event: RunCompleted, now: datetime) -> Outcome | None:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            assert record is not None
            portfolio = record.portfolio
            if portfolio.blocked_by != event.optimization_id:
                log.info(
                    "run.completed for an optimization that does not block this portfolio",
                    optimization_id=event.optimization_id,
                    blocked_by=portfolio.blocked_by,
                )
                return None
            done, clamps = record.complete_run(
                event.optimization_id,
                executed=event.holdings_delta,
                cash_delta=event.cash_delta,
                last_execution_at=event.last_execution_at,
                completed_on=self.evaluator.calendar.today(event.completed_at),
            )
            for clamp in clamps:
                log.warning(
                    "executed sale exceeds the holding; clamped",
                    symbol=clamp.symbol,
                    delta=str(clamp.delta),
                    held=str(clamp.held),
                )
            log.info(
                "portfolio unblocked",
                optimization_id=event.optimization_id,
                run_status=event.status.value,
            )
            return Outcome(done)

        return await self._update(event, event.portfolio_id, step)

    # -- expiry (clock-driven) ------------------------------------------------------------------

    async def expire_due(self, now: datetime) -> int:
        """Expire every advisory optimization past its deadline; returns how many."""
        expired = 0
        after: str | None = None
        while True:
            ids = await self.queries.expired(now, after=after, limit=EXPIRY_PAGE)
            for portfolio_id in ids:
                if await self._expire_one(portfolio_id, now):
                    expired += 1
            if len(ids) < EXPIRY_PAGE:
                return expired
            after = ids[-1]

    async def _expire_one(self, portfolio_id: str, now: datetime) -> bool:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                return None
            if record.awaiting is None:
                return Outcome(record.forget_expiry())  # a stale index entry
            if not record.awaiting_expired(now, self.config.advisory_expiry):
                return None
            return self._expire(record, None, now, "nobody decided in time")

        return await self.portfolios.update(portfolio_id, None, step) is not None

    def _expire(
        self,
        record: PortfolioAccount,
        cause: Event | None,
        now: datetime,
        detail: str,
    ) -> Outcome:
        expired, opt = record.expire(now, self.config.advisory_expiry)
        event = messages.status_changed(
            opt, cause=cause, producer=self.config.producer, detail=detail
        )
        entry = self.portfolios.history_entry(
            record, opt, cause_id=cause.event_id if cause else None, suffix=str(opt.status)
        )
        log.info("advisory optimization expired", optimization_id=opt.optimization_id)
        return Outcome(expired, [event], [entry])
