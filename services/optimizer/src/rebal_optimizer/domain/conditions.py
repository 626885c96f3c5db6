"""When to optimize and which run type (docs/design.md §3 "Triggers and evaluation").

Checks run in Alpaca's order (rebalancing-anchors.md §a.5, §a.8) and every check is written to
the decision record, whether it stopped the evaluation or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain.drift import compute_drifts, largest_drift, portfolio_value
from rebal_optimizer.domain.enums import (
    ConditionType,
    ModelStatus,
    OptimizerMode,
    RunType,
    TriggerReason,
)
from rebal_optimizer.domain.model_portfolio import (
    HUNDRED,
    ZERO,
    ModelPortfolio,
    RebalanceCondition,
    TargetWeights,
    Weight,
)
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices, valuation_problems
from rebal_optimizer.domain.reasons import Reason
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.trading_days import TradingDays, trading_day_of
from rebal_optimizer.domain.triggers import ConditionEvaluation, Trigger
from rebal_optimizer.domain.waiting import WaitKind, first_missing_price

MANUAL_WEIGHTS_WHILE_SUBSCRIBED = "MANUAL_WEIGHTS_WHILE_SUBSCRIBED"
_DISPLAY = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class Policy:
    """What a portfolio steers toward: its model's weights and conditions, or its own."""

    weights: tuple[Weight, ...]
    conditions: tuple[RebalanceCondition, ...] = ()
    cooldown_days: int = 0
    model_id: str | None = None
    model_status: ModelStatus = ModelStatus.ACTIVE

    @property
    def targets(self) -> TargetWeights:
        return TargetWeights.from_weights(self.weights)

    @property
    def has_calendar(self) -> bool:
        return any(c.type is ConditionType.CALENDAR for c in self.conditions)


def resolve_policy(
    settings: PortfolioSettings, model: ModelPortfolio | None, trigger: Trigger | None = None
) -> Policy | None:
    if trigger is not None and trigger.weights and not settings.follows_model:
        return Policy(trigger.weights)  # a one-off manual run with its own weights
    if settings.model_id is not None:
        if model is None or model.model_id != settings.model_id:
            return None
        return Policy(
            model.weights,
            model.rebalance_conditions,
            model.cooldown_days,
            model.model_id,
            model.status,
        )
    if settings.own_weights:
        return Policy(settings.own_weights, settings.own_conditions, settings.own_cooldown_days)
    return None


@dataclass(frozen=True, slots=True)
class RunDecision:
    run_type: RunType | None
    record: tuple[ConditionEvaluation, ...]
    policy: Policy | None = None
    amount: Decimal | None = None
    refused_reason: str | None = None
    first_funding: bool = False
    missing: tuple[WaitKind, str] | None = None  # the price or model it could not do without


def uninvested_cash(portfolio: Portfolio, policy: Policy, prices: Prices) -> Decimal:
    """Cash above the cash target + buffer + pending withdrawal (same formula as the orders)."""
    total = portfolio_value(portfolio.holdings, portfolio.cash, prices)
    effective = policy.targets.with_cash_buffer(portfolio.settings.cash_buffer_percent)
    reserved = portfolio.pending_withdrawal
    investable = max(ZERO, total - reserved)
    return portfolio.cash - investable * effective.cash / HUNDRED - reserved


class _Record:
    """Collects the decision record; `check` returns the outcome so checks read as conditions."""

    def __init__(self) -> None:
        self.lines: list[ConditionEvaluation] = []

    def check(
        self,
        name: str,
        met: bool,
        value: str | Decimal | None = None,
        threshold: str | Decimal | None = None,
        detail: str = "",
    ) -> bool:
        self.lines.append(ConditionEvaluation(name, met, value, threshold, detail))
        return met

    def stop(
        self, refused: str | None = None, missing: tuple[WaitKind, str] | None = None
    ) -> RunDecision:
        return RunDecision(None, tuple(self.lines), refused_reason=refused, missing=missing)

    def run(
        self,
        run_type: RunType,
        policy: Policy,
        amount: Decimal | None = None,
        first_funding: bool = False,
    ) -> RunDecision:
        return RunDecision(run_type, tuple(self.lines), policy, amount, None, first_funding)


def decide_run(
    portfolio: Portfolio,
    model: ModelPortfolio | None,
    trigger: Trigger,
    prices: Prices,
    *,
    now: datetime,
    today: date,
    trading_days: TradingDays,
    max_price_age: timedelta,
) -> RunDecision:
    """Which run (if any) this trigger starts. Gates first (inactive, blocked, awaiting client
    holdings, external optimizer), then explicit requests (withdrawal, manual), then the
    automatic conditions."""
    record = _Record()
    check = record.check
    settings = portfolio.settings
    if trigger.waited_for is not None:
        check("waited_for", True, trigger.waited_for, detail=f"resumed {trigger.reason} trigger")
    if check("inactive", not settings.active):
        return record.stop()
    if check("blocked", portfolio.blocked_by is not None, portfolio.blocked_by):
        return record.stop()
    waiting = portfolio.awaiting_client_holdings_after
    if check(
        "awaiting_client_holdings", waiting is not None, waiting.isoformat() if waiting else None
    ):
        return record.stop()
    if check("external_optimizer", settings.optimizer is OptimizerMode.EXTERNAL):
        return record.stop()
    manual = trigger.reason is TriggerReason.MANUAL
    if check(
        "manual_weights_while_subscribed",
        manual and bool(trigger.weights) and settings.follows_model,
        settings.model_id,
    ):
        return record.stop(MANUAL_WEIGHTS_WHILE_SUBSCRIBED)
    policy = resolve_policy(settings, model, trigger)
    if policy is None:
        check("no_target_weights", True, settings.model_id, detail="model unknown or no weights")
        unknown = settings.model_id if model is None else None
        return record.stop(missing=("model", unknown) if unknown is not None else None)
    if check(
        "model_not_active",
        policy.model_status is not ModelStatus.ACTIVE,
        policy.model_status,
        ModelStatus.ACTIVE,
    ):
        return record.stop()
    if trigger.reason is TriggerReason.WITHDRAWAL:
        pending = portfolio.pending_withdrawal
        if check("withdrawal_requested", pending > 0, pending):
            return record.run(RunType.WITHDRAWAL, policy, pending)
        return record.stop()
    if manual:
        run_type = trigger.run_type or RunType.FULL_REBALANCE
        amount = trigger.amount
        if run_type is RunType.WITHDRAWAL and amount is None:
            amount = portfolio.pending_withdrawal
        check("manual_run", True, run_type, detail=trigger.initiated_from)
        return record.run(run_type, policy, amount)
    day = trading_day_of(today, trading_days)
    if check("daily_limit", portfolio.last_automatic_optimization_day == day, day.isoformat()):
        return record.stop()
    problems = valuation_problems(portfolio.holdings, prices, now, max_price_age)
    return _automatic(record, portfolio, policy, trigger, prices, today, problems)


def _automatic(
    record: _Record,
    portfolio: Portfolio,
    policy: Policy,
    trigger: Trigger,
    prices: Prices,
    today: date,
    problems: list[Reason],
) -> RunDecision:
    """Alpaca's daily evaluation: first funding, cooldown, calendar, drift bands (any met →
    full_rebalance), otherwise invest_cash when uninvested cash exceeds the threshold.
    Holdings that cannot be valued stop it; a missing or stale price is waited for."""
    check = record.check
    unvalued = ", ".join(f"{p.code}:{p.symbol}" for p in problems)
    detail = f"holdings cannot be valued: {unvalued}" if unvalued else ""
    threshold = portfolio.settings.invest_cash_threshold
    uninvested = None if unvalued else uninvested_cash(portfolio, policy, prices)
    invest_met = uninvested is not None and uninvested > threshold

    # A withdrawal that could not be started when requested (blocked, awaiting holdings) is
    # picked up by the next automatic evaluation instead of waiting for a new request.
    pending = portfolio.pending_withdrawal
    if check(
        "withdrawal_pending", pending > 0 and pending > portfolio.cash, pending, portfolio.cash
    ):
        return record.run(RunType.WITHDRAWAL, policy, pending)
    first_cash = trigger.reason in (TriggerReason.DEPOSIT, TriggerReason.HOLDINGS)
    if (
        first_cash
        and not portfolio.funded
        and check("first_funding", invest_met, uninvested, threshold, detail)
    ):
        return record.run(RunType.FULL_REBALANCE, policy, first_funding=True)

    # Alpaca re-evaluates subscribers of a changed model even inside cooldown.
    waived = (
        trigger.reason is TriggerReason.MODEL_CHANGED
        or portfolio.cooldown_waived
        or portfolio.targets_changed
    )
    last = portfolio.last_rebalanced_at
    days_since = (today - last).days if last is not None else None
    cooling = days_since is not None and days_since < policy.cooldown_days
    in_cooldown = check(
        "in_cooldown",
        cooling and not waived,
        None if days_since is None else Decimal(days_since),
        Decimal(policy.cooldown_days),
        "waived: model or subscription changed" if cooling and waived else "",
    )
    if not in_cooldown:
        if check("targets_changed", portfolio.targets_changed):
            return record.run(RunType.FULL_REBALANCE, policy)
        calendar_met = (
            trigger.reason is TriggerReason.CALENDAR
            and policy.has_calendar
            and trigger.model_id in (None, policy.model_id)
        )
        if check("calendar", calendar_met, trigger.reason):
            return record.run(RunType.FULL_REBALANCE, policy)
        if _drift_bands(record, portfolio, policy, prices, detail):
            return record.run(RunType.FULL_REBALANCE, policy)
    if check("invest_cash", invest_met, uninvested, threshold, detail):
        return record.run(RunType.INVEST_CASH, policy)
    symbol = first_missing_price(problems)
    return record.stop(missing=("price", symbol) if symbol is not None else None)


def _drift_bands(
    record: _Record, portfolio: Portfolio, policy: Policy, prices: Prices, unvalued_detail: str
) -> bool:
    bands = [c for c in policy.conditions if c.type is ConditionType.DRIFT_BAND]
    if unvalued_detail:
        for band in bands:
            record.check(f"drift_band.{band.sub_type}", False, None, band.percent, unvalued_detail)
        return False
    targets = policy.targets.with_cash_buffer(portfolio.settings.cash_buffer_percent)
    drifts = compute_drifts(portfolio.holdings, portfolio.cash, prices, targets) if bands else ()
    breached = False
    for band in bands:
        assert band.percent is not None  # validated: drift bands always carry a percent
        worst = largest_drift(drifts, band.sub_type)
        value = worst.measure(band.sub_type) if worst is not None else ZERO
        where = "" if worst is None else (worst.symbol or "cash")
        met = record.check(
            f"drift_band.{band.sub_type}",
            value > band.percent,
            value.quantize(_DISPLAY),
            band.percent,
            where,
        )
        breached = breached or met
    return breached
