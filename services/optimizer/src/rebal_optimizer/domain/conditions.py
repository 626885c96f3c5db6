"""When to optimize and which run type (docs/design.md §3 "Triggers and evaluation").

Checks run in Alpaca's order (inactive / blocked first, then cooldown, calendar, drift bands:
automatic.py) and every check is written to the decision record (record.py), whether it stopped
the evaluation or not. A run an automatic trigger would start is then held by the daily limit and
deferred to the next trading day; a calendar slot a blocked portfolio cannot take is deferred to
the unblock (deferral.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from rebal_optimizer.domain.automatic import automatic
from rebal_optimizer.domain.client_wait import late_client_holdings
from rebal_optimizer.domain.deferral import defer, next_trading_day
from rebal_optimizer.domain.enums import ModelStatus, OptimizerMode, RunType, TriggerReason
from rebal_optimizer.domain.governance import ineligible, substitute
from rebal_optimizer.domain.model_portfolio import ModelPortfolio
from rebal_optimizer.domain.policy import Policy, resolve_policy, uninvested_cash
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices, valuation_problems
from rebal_optimizer.domain.reasons import (
    AWAITING_CLIENT_HOLDINGS,
    BLOCKED,
    DAILY_LIMIT,
    DEFERRED,
    EXTERNAL_OPTIMIZER,
    FALLBACK_USED,
    MODEL_INACTIVE,
    MODEL_NEEDS_ADJUSTMENT,
    MODEL_UNKNOWN,
    NO_TARGET_WEIGHTS,
    NO_WITHDRAWAL_PENDING,
    OWN_WEIGHTS_WHILE_SUBSCRIBED,
    PORTFOLIO_INACTIVE,
    Reason,
)
from rebal_optimizer.domain.record import DecisionRecord, RunDecision, seen
from rebal_optimizer.domain.trading_days import TradingDays, trading_day_of
from rebal_optimizer.domain.triggers import Trigger

__all__ = ["Policy", "RunDecision", "decide_run", "resolve_policy", "uninvested_cash"]


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
    client_holdings_wait: timedelta | None = None,
) -> RunDecision:
    """Which run (if any) this trigger starts. Gates first (inactive, blocked, awaiting client
    holdings until `client_holdings_wait` after the run's last execution, external optimizer,
    own weights while subscribed, the model), then explicit requests (withdrawal, manual), then
    the automatic conditions and the daily limit."""
    record = DecisionRecord(portfolio.deferred)
    check = record.check
    settings = portfolio.settings
    if trigger.waited_for is not None:
        check("waited_for", True, trigger.waited_for, detail=f"resumed {trigger.reason} trigger")
    policy = resolve_policy(settings, model, trigger)
    record.lines += seen(portfolio, policy, prices, model)
    if check("inactive", not settings.active):
        return record.stop(PORTFOLIO_INACTIVE)
    if check("blocked", portfolio.blocked_by is not None, portfolio.blocked_by):
        if trigger.reason is TriggerReason.CALENDAR:  # runs once the portfolio is unblocked
            record.deferred = defer(record.deferred, (trigger.reason,), None, trigger.model_id)
            record.notes.append(Reason(DEFERRED, None, "calendar: evaluated when unblocked"))
        return record.stop(BLOCKED)
    waiting = portfolio.awaiting_client_holdings_after
    if check(
        "awaiting_client_holdings",
        portfolio.awaits_client_holdings(now, client_holdings_wait),
        waiting.isoformat() if waiting else None,
    ):
        return record.stop(AWAITING_CLIENT_HOLDINGS)
    if (late := late_client_holdings(portfolio, now, client_holdings_wait)) is not None:
        record.lines.append(late[0])
    if check("external_optimizer", settings.optimizer is OptimizerMode.EXTERNAL):
        return record.stop(EXTERNAL_OPTIMIZER)
    manual = trigger.reason is TriggerReason.MANUAL
    if check(
        "own_weights_while_subscribed",
        manual and bool(trigger.weights) and settings.follows_model,
        settings.model_id,
    ):
        return record.stop(OWN_WEIGHTS_WHILE_SUBSCRIBED)
    if policy is None:
        check("no_target_weights", True, settings.model_id, detail="model unknown or no weights")
        if settings.model_id is not None and model is None:
            return record.stop(MODEL_UNKNOWN, missing=("model", settings.model_id))
        return record.stop(NO_TARGET_WEIGHTS)
    status = policy.model_status
    if check(
        "model_not_active",
        status is not ModelStatus.ACTIVE,
        status,
        ModelStatus.ACTIVE,
        ", ".join(model.ineligible) if model is not None else "",
    ):
        return record.stop(
            MODEL_NEEDS_ADJUSTMENT if status is ModelStatus.NEEDS_ADJUSTMENT else MODEL_INACTIVE
        )
    if model is not None and policy.model_id is not None:
        governed = _with_fallbacks(record, policy, model, prices, settings.fractional_trading)
        if governed is None:
            return record.stop(MODEL_NEEDS_ADJUSTMENT)
        policy = governed
    if trigger.reason is TriggerReason.WITHDRAWAL:
        pending = portfolio.pending_withdrawal
        if check("withdrawal_requested", pending > 0, pending):
            return record.run(RunType.WITHDRAWAL, policy, pending)
        return record.stop(NO_WITHDRAWAL_PENDING)
    if manual:
        run_type = trigger.run_type or RunType.FULL_REBALANCE
        amount = trigger.amount
        if run_type is RunType.WITHDRAWAL and amount is None:
            amount = portfolio.pending_withdrawal
        check("manual_run", True, run_type, detail=trigger.initiated_from)
        return record.run(run_type, policy, amount)
    return _automatic_with_daily_limit(
        record, portfolio, policy, trigger, prices, now, today, trading_days, max_price_age
    )


def _with_fallbacks(
    record: DecisionRecord,
    policy: Policy,
    model: ModelPortfolio,
    prices: Prices,
    fractional: bool,
) -> Policy | None:
    """The policy with each ineligible symbol mapped to the model's fallback for it; None when
    one has no fallback: the model needs adjustment (the service layer marks it)."""
    unfit = ineligible(policy.targets.assets, prices, fractional=fractional)
    weights, used = substitute(policy.weights, model.fallbacks, unfit)
    for symbol, fallback in used.items():
        record.check(f"fallback.{symbol}", True, fallback, detail=unfit[symbol])
        record.notes.append(Reason(FALLBACK_USED, symbol, f"{unfit[symbol]}: traded as {fallback}"))
    unfixable = tuple(s for s in unfit if s not in used)
    if record.check(
        "model_needs_adjustment",
        bool(unfixable),
        ", ".join(unfixable) or None,
        detail="; ".join(f"{s} {unfit[s]}" for s in unfixable),
    ):
        record.needs_adjustment = unfixable
        return None
    return replace(policy, weights=weights, fallbacks=tuple(used.items()))


def _automatic_with_daily_limit(
    record: DecisionRecord,
    portfolio: Portfolio,
    policy: Policy,
    trigger: Trigger,
    prices: Prices,
    now: datetime,
    today: date,
    trading_days: TradingDays,
    max_price_age: timedelta,
) -> RunDecision:
    """What was deferred to now counts as this trigger's own; a run the conditions start is
    held by the daily limit (one automatic optimization per trading day) and deferred."""
    day = trading_day_of(today, trading_days)
    due = (
        portfolio.deferred
        if portfolio.deferred and portfolio.deferred.due(day, blocked=False)
        else None
    )
    reasons = {trigger.reason, *(due.reasons if due else ())}
    calendar_model = trigger.model_id if trigger.reason is TriggerReason.CALENDAR else None
    if due is not None:
        when = due.until.isoformat() if due.until else "unblock"
        record.check("deferred", True, ",".join(due.reasons), when, "acted on now")
        record.deferred = None
        calendar_model = calendar_model or due.model_id
    problems = valuation_problems(portfolio.holdings, prices, now, max_price_age)
    decided = automatic(record, portfolio, policy, reasons, calendar_model, prices, today, problems)
    if decided.run_type is None or decided.policy is None:
        # holdings it could not value: what was deferred is not acted on yet
        return replace(decided, deferred=portfolio.deferred) if problems else decided
    if not record.check(
        "daily_limit", portfolio.last_automatic_optimization_day == day, day.isoformat()
    ):
        return record.run(decided.run_type, decided.policy, decided.amount, decided.first_funding)
    until = next_trading_day(day, trading_days)
    record.deferred = defer(record.deferred, reasons, until, calendar_model)
    what = ", ".join(sorted(reasons))
    record.notes.append(
        Reason(DEFERRED, None, f"{decided.run_type} ({what}) evaluated again on {until}")
    )
    return record.stop(DAILY_LIMIT)
