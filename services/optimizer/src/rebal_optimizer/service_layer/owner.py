"""The owner's choice on an advisory optimization (optimization.decided) and the expiry of those
nobody decided on in time.

A choice that cannot be applied is refused with `request.rejected`: OPTIMIZATION_EXPIRED for an
optimization that expired (by the sweep, or found past its deadline when the choice arrives: it
expires then), OPTIMIZATION_UNKNOWN for one that is not awaiting its owner on this portfolio
(never created here, or decided, superseded or executed already). A choice for a portfolio that
does not exist is dead-lettered (there is no portfolio to answer from).
"""

from __future__ import annotations

from datetime import datetime

from rebal_optimizer.domain import (
    OptimizationStatus,
    OwnerChoice,
    PortfolioAccount,
    Refusal,
)
from rebal_optimizer.domain.governance import OPTIMIZATION_EXPIRED, OPTIMIZATION_UNKNOWN
from rebal_optimizer.service_layer import messages
from rebal_optimizer.service_layer.evaluation import Answer, Evaluator, OptimizerConfig
from rebal_optimizer.service_layer.ports import PortfolioQueries
from rebal_optimizer.service_layer.rejections import refused, rejecting
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork, update_known
from rebal_runtime.log import get_logger
from rebal_schemas import Event, OptimizationDecided, RequestRejected, RunInitiator, RunType

log = get_logger(__name__)
EXPIRY_PAGE = 500


class OwnerChoices:
    def __init__(
        self,
        portfolios: PortfolioUnitOfWork,
        evaluator: Evaluator,
        queries: PortfolioQueries,
        config: OptimizerConfig,
    ) -> None:
        self.portfolios = portfolios
        self.evaluator = evaluator
        self.queries = queries
        self.config = config

    async def decided(self, event: OptimizationDecided, now: datetime) -> Outcome | None:
        async def step(record: PortfolioAccount | None) -> Outcome:
            assert record is not None
            if not record.awaits(event.optimization_id):
                return self._refuse(record, event)
            if record.awaiting_expired(now, self.config.advisory_expiry):
                expired = self._expire(
                    record, event, now, "the owner's choice arrived after the deadline"
                )
                (rejection,) = self._refuse(expired.record, event).publish
                assert isinstance(rejection, RequestRejected)
                return Outcome(expired.record, refused(expired.publish, rejection), expired.history)
            return await self._apply(record, event, now)

        return await update_known(self.portfolios, event, event.portfolio_id, step)

    def _refuse(self, record: PortfolioAccount, event: OptimizationDecided) -> Outcome:
        choice = event.owner_choice.value
        oid = event.optimization_id
        if oid in record.recent_expired:
            refusal = Refusal(OPTIMIZATION_EXPIRED, f"{choice} refused: {oid} expired")
        else:
            current = record.awaiting.optimization_id if record.awaiting else "none"
            refusal = Refusal(
                OPTIMIZATION_UNKNOWN,
                f"{choice} refused: {oid} is not awaiting its owner on portfolio "
                f"{record.portfolio_id} (awaiting: {current})",
            )
        log.info("owner's choice refused", code=refusal.code, optimization_id=oid)
        rejection = rejecting(
            event,
            refusal,
            self.config.producer,
            portfolio_id=record.portfolio_id,
            account_id=record.account_id,
            run_id=oid,
        )
        return Outcome(record, [rejection])

    async def _apply(
        self, record: PortfolioAccount, event: OptimizationDecided, now: datetime
    ) -> Outcome:
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
            # the choice was applied (superseded): a rule holding the new evaluation is said in
            # its decision record, not as a refusal of the choice
            answer = Answer(
                event, RunInitiator.api, explicit=True, run_type=RunType(str(opt.run_type))
            )
            again = await self.evaluator.evaluate(decided, decision.reoptimize, answer, now)
            outcome = outcome.extend(again)
        return outcome

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
