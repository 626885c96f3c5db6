"""Evaluate one portfolio under a trigger and turn the domain's answer into an `Outcome`:
events to publish, the new portfolio record, decision records. Shared by every handler that
evaluates (patches, rebalance requests, REOPTIMIZE, external submissions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from rebal_optimizer.domain import (
    ConditionEvaluation,
    Evaluation,
    ModelPortfolio,
    Optimization,
    OptimizationStatus,
    PortfolioAccount,
    Refusal,
    Trigger,
)
from rebal_optimizer.domain.reasons import NO_PORTFOLIO_VALUE
from rebal_optimizer.domain.trading_days import TradingCalendar
from rebal_optimizer.service_layer import messages
from rebal_optimizer.service_layer.ports import ReferenceData
from rebal_optimizer.service_layer.rejections import REJECTING_RULES, refused, rejecting
from rebal_optimizer.service_layer.stop_reasons import rule_reason
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork
from rebal_schemas import Event, OptimizerMode, Reason, RunInitiator, RunType, TriggerReason


@dataclass(frozen=True)
class OptimizerConfig:
    producer: str
    max_price_age: timedelta
    advisory_expiry: timedelta
    fanout_batch: int = 1000
    history_enabled: bool = True
    unblock_on: Literal["settlement", "execution"] = "settlement"  # run.settled or run.completed
    client_holdings_wait: timedelta | None = timedelta(days=1)  # None: wait for the client forever
    model_wait: timedelta = timedelta(hours=1)  # grace for a subscribed model to arrive


@dataclass(frozen=True)
class Answer:
    """How to publish an evaluation's result."""

    cause: Event
    initiated_from: RunInitiator
    source: OptimizerMode = OptimizerMode.PLATFORM
    explicit: bool = False  # a request: answered even when the portfolio is empty (not evaluated)
    rejects: bool = False  # a client's request: a rule that holds it answers with request.rejected
    run_type: RunType = RunType.full_rebalance  # of the NOT_RECOMMENDED answer
    trigger: TriggerReason = TriggerReason.manual  # of the NOT_RECOMMENDED answer
    extra_reasons: Sequence[Reason] = ()
    optimization_id: str | None = None  # default: derived from the cause and the portfolio


class Evaluator:
    def __init__(
        self,
        reference: ReferenceData,
        portfolios: PortfolioUnitOfWork,
        calendar: TradingCalendar,
        config: OptimizerConfig,
    ) -> None:
        self.reference = reference
        self.portfolios = portfolios
        self.calendar = calendar
        self.config = config

    def not_evaluated(self, record: PortfolioAccount, answer: Answer, reason: Reason) -> Outcome:
        """The answer to a request that is not evaluated: NOT_RECOMMENDED with `reason`."""
        return Outcome(record, [self._answer(record, (), answer, reason)])

    async def evaluate(
        self, record: PortfolioAccount, trigger: Trigger, answer: Answer, now: datetime
    ) -> Outcome:
        if not record.has_value:  # an empty portfolio waits for its first funding
            if not answer.explicit:
                return Outcome(record)
            empty = Reason(code=NO_PORTFOLIO_VALUE, detail="no holdings and no cash")
            return self.not_evaluated(record, answer, empty)
        portfolio = record.portfolio
        settings = portfolio.settings
        model = await self.reference.model(settings.model_id) if settings.model_id else None
        symbols = set(portfolio.holdings) | _target_symbols(record, model, trigger)
        prices = await self.reference.prices(symbols)
        evaluation = record.evaluate(
            trigger,
            model,
            prices,
            optimization_id=answer.optimization_id
            or messages.optimization_id_for(answer.cause.event_id, record.portfolio_id),
            now=now,
            today=self.calendar.today(now),
            trading_days=self.calendar,
            max_price_age=self.config.max_price_age,
            client_holdings_wait=self.config.client_holdings_wait,
        )
        return self.outcome(record, evaluation, answer, now)

    def outcome(
        self, record: PortfolioAccount, evaluation: Evaluation, answer: Answer, now: datetime
    ) -> Outcome:
        """Publish and record what an evaluation (own or external) decided."""
        result = Outcome(record.with_portfolio(evaluation.portfolio))
        if evaluation.superseded_optimization_id is not None:
            result = result.extend(self._supersede(result.record, answer.cause, now))
        opt = evaluation.optimization
        if opt is not None:
            result = result.extend(self._created(result.record, opt, answer, now))
        else:  # every evaluation leaves its decision record, also one that starts no run
            reason = rule_reason(evaluation.rule, evaluation.decision)
            result.publish.append(self._not_recommended(record, evaluation, answer, reason))
            if answer.rejects and evaluation.rule in REJECTING_RULES:
                refusal = Refusal(reason.code, f"{reason.code}: {reason.detail or 'held'}")
                rejection = rejecting(
                    answer.cause,
                    refusal,
                    self.config.producer,
                    portfolio_id=record.portfolio_id,
                    account_id=record.account_id,
                )
                result.publish = refused(result.publish, rejection)
        needs = evaluation.model_needs_adjustment
        if needs and record.portfolio.settings.model_id is not None:
            result.needs_adjustment = (record.portfolio.settings.model_id, tuple(needs))
        return result

    def _created(
        self, record: PortfolioAccount, opt: Optimization, answer: Answer, now: datetime
    ) -> Outcome:
        settings = record.portfolio.settings
        new = record.created(opt, now, self.config.advisory_expiry)
        expires_at = new.expires_at if opt.status is OptimizationStatus.AWAITING_OWNER else None
        publish: list[Event] = [
            messages.optimization_created(
                opt,
                account_id=record.account_id,
                broker_integration=str(settings.broker_integration),
                source=answer.source,
                initiated_from=answer.initiated_from,
                cause=answer.cause,
                producer=self.config.producer,
                expires_at=expires_at,
                extra_reasons=answer.extra_reasons,
            )
        ]
        if opt.status is OptimizationStatus.READY:
            publish.append(
                messages.optimization_ready(
                    opt,
                    account_id=record.account_id,
                    broker_integration=str(settings.broker_integration),
                    initiated_from=answer.initiated_from,
                    cause=answer.cause,
                    producer=self.config.producer,
                )
            )
        entry = self.portfolios.history_entry(record, opt, cause_id=answer.cause.event_id)
        return Outcome(new, publish, [entry])

    def _supersede(self, record: PortfolioAccount, cause: Event, now: datetime) -> Outcome:
        """A newer recommendation took the place of the one waiting for its owner."""
        new, replaced = record.supersede(now)
        if replaced is None:
            return Outcome(new)
        event = messages.status_changed(
            replaced,
            cause=cause,
            producer=self.config.producer,
            detail="replaced by a newer optimization",
        )
        entry = self.portfolios.history_entry(
            record, replaced, cause_id=cause.event_id, suffix=str(replaced.status)
        )
        return Outcome(new, [event], [entry])

    def _not_recommended(
        self, record: PortfolioAccount, evaluation: Evaluation, answer: Answer, reason: Reason
    ) -> Event:
        notes = tuple(messages.wire_reason(n) for n in evaluation.notes)
        return self._answer(record, evaluation.decision, answer, reason, notes)

    def _answer(
        self,
        record: PortfolioAccount,
        decision: Sequence[ConditionEvaluation],
        answer: Answer,
        reason: Reason,
        notes: Sequence[Reason] = (),
    ) -> Event:
        settings = record.portfolio.settings
        return messages.not_recommended(
            optimization_id=answer.optimization_id
            or messages.optimization_id_for(answer.cause.event_id, record.portfolio_id),
            portfolio_id=record.portfolio_id,
            account_id=record.account_id,
            mandate=str(settings.mandate),
            broker_integration=str(settings.broker_integration),
            run_type=answer.run_type,
            trigger=answer.trigger,
            initiated_from=answer.initiated_from,
            source=answer.source,
            decision=decision,
            reasons=(reason, *notes, *answer.extra_reasons),
            cause=answer.cause,
            producer=self.config.producer,
        )


def _target_symbols(
    record: PortfolioAccount, model: ModelPortfolio | None, trigger: Trigger
) -> set[str]:
    weights = (
        *record.portfolio.settings.own_weights,
        *trigger.weights,
        *(model.weights if model is not None else ()),
    )
    fallbacks = set(model.fallbacks.values()) if model is not None else set()
    return {w.symbol for w in weights if w.symbol is not None} | fallbacks
