"""One evaluation of one portfolio: decide the run (conditions.py), generate its orders, create
the optimization and move the portfolio along through its own methods (`Portfolio.evaluated`:
block it, or wait for the owner; `wait_for`, `defer`, `defer_model_change`). Imports run one way:
portfolio <- conditions <- evaluation <- account."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain.client_wait import late_client_holdings
from rebal_optimizer.domain.conditions import decide_run
from rebal_optimizer.domain.enums import Initiator, OptimizerMode, RunType, TriggerReason
from rebal_optimizer.domain.model_portfolio import ZERO, ModelPortfolio, Weight
from rebal_optimizer.domain.optimization import (
    ExternalOrder,
    Optimization,
    external_orders,
    validate_external,
)
from rebal_optimizer.domain.order_plan import OrderPlan
from rebal_optimizer.domain.orders import generate_orders
from rebal_optimizer.domain.plan_refinement import refine_plan
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices, require_aware, valuation_problems
from rebal_optimizer.domain.reasons import (
    AWAITING_CLIENT_HOLDINGS,
    BLOCKED,
    DAILY_LIMIT,
    EXTERNAL_OPTIMIZER,
    MODEL_INACTIVE,
    MODEL_NEEDS_ADJUSTMENT,
    OWN_WEIGHTS_WHILE_SUBSCRIBED,
    PORTFOLIO_INACTIVE,
    Reason,
)
from rebal_optimizer.domain.record import RunDecision
from rebal_optimizer.domain.replan import Origin
from rebal_optimizer.domain.tax_plan import taxed
from rebal_optimizer.domain.trading_days import TradingDays, trading_day_of
from rebal_optimizer.domain.triggers import ConditionEvaluation, Trigger
from rebal_optimizer.domain.waiting import NOT_RESUMED, Waiting, first_missing_price, waiting_for

# Rules that only postpone: a model change stopped by them must still waive cooldown later.
_DEFERRING_RULES = frozenset({BLOCKED, DAILY_LIMIT, AWAITING_CLIENT_HOLDINGS})
# Rules that stop an evaluation before it looks at prices or the model (or, the daily limit,
# after it found nothing missing): what the portfolio was waiting for still stands.
_GATE_RULES = frozenset(
    {
        PORTFOLIO_INACTIVE,
        BLOCKED,
        AWAITING_CLIENT_HOLDINGS,
        EXTERNAL_OPTIMIZER,
        OWN_WEIGHTS_WHILE_SUBSCRIBED,
        MODEL_INACTIVE,
        MODEL_NEEDS_ADJUSTMENT,
        DAILY_LIMIT,
    }
)


@dataclass(frozen=True, slots=True)
class Evaluation:
    portfolio: Portfolio
    optimization: Optimization | None
    decision: tuple[ConditionEvaluation, ...]
    rule: str | None = None  # the rule that started no optimization (reasons.py)
    superseded_optimization_id: str | None = None  # apply REPLACED to it
    model_needs_adjustment: tuple[str, ...] = ()  # ineligible symbols of the followed model
    notes: tuple[Reason, ...] = ()  # informing reasons when no optimization (DEFERRED, ...)


def evaluate(
    portfolio: Portfolio,
    trigger: Trigger,
    model: ModelPortfolio | None,
    prices: Prices,
    *,
    optimization_id: str,
    now: datetime,
    today: date,
    trading_days: TradingDays,
    max_price_age: timedelta,
    client_holdings_wait: timedelta | None = None,
) -> Evaluation:
    """`client_holdings_wait`: how long a CLIENT portfolio waits for the client's holdings after
    a run's last execution before it is optimized on its own book (None: no deadline)."""
    require_aware(now)
    decision = decide_run(
        portfolio,
        model,
        trigger,
        prices,
        now=now,
        today=today,
        trading_days=trading_days,
        max_price_age=max_price_age,
        client_holdings_wait=client_holdings_wait,
    )
    if decision.run_type is None or decision.policy is None:
        stopped = _note_deferred_model_change(portfolio, trigger, decision)
        stopped = stopped.defer(decision.deferred).wait_for(
            _waiting(portfolio, trigger, decision, ())
        )
        return Evaluation(
            stopped,
            None,
            decision.record,
            decision.rule,
            model_needs_adjustment=decision.needs_adjustment,
            notes=decision.notes,
        )
    run_type = decision.run_type
    policy = decision.policy
    reserved = ZERO if run_type is RunType.WITHDRAWAL else portfolio.pending_withdrawal
    plan = generate_orders(
        run_type,
        portfolio.holdings,
        portfolio.cash,
        policy.targets,
        prices,
        portfolio.settings,
        now,
        max_price_age,
        decision.amount,
        reserved_cash=reserved,
        fallbacks=policy.fallback_map,
        bands=policy.drift_bands,
    )
    # Carry-forward and the cost gate decide what trades; then the sells pick their lots and the
    # wash-sale guard looks at the buys that are left.
    refined = refine_plan(plan, run_type, portfolio, policy.targets, prices, reserved_cash=reserved)
    plan = taxed(
        refined.plan,
        portfolio,
        prices,
        today,
        model_fallbacks=model.fallbacks if model is not None and policy.model_id else None,
        now=now,
        max_price_age=max_price_age,
    )
    late = late_client_holdings(portfolio, now, client_holdings_wait)
    notes = (*decision.notes, *((late[1],) if late is not None else ()))
    if notes:
        plan = replace(plan, reasons=(*plan.reasons, *notes))
    optimization = _optimization(
        portfolio,
        optimization_id,
        run_type,
        trigger,
        plan,
        (*decision.record, *refined.record),
        now,
        policy.weights,
        policy.model_id,
        decision.amount,
    )
    recommended_automatic = optimization.is_recommended and trigger.is_automatic
    # a failed plan (a price missing, ...) did not act on what was deferred: it stays deferred
    deferred = decision.deferred if decision.deferred or not plan.failed else portfolio.deferred
    updated, superseded = portfolio.defer(deferred).evaluated(
        optimization,
        waiting=_waiting(portfolio, trigger, decision, plan.reasons),
        # The change was honoured: proposed, executed, or already in place (nothing to trade).
        targets_honoured=run_type is RunType.FULL_REBALANCE and not plan.failed,
        automatic_day=trading_day_of(today, trading_days) if recommended_automatic else None,
        first_funding=decision.first_funding,
        client_holdings_late=late is not None,
        origin=Origin(
            optimization_id,
            replace(trigger, waited_for=None),
            portfolio.last_automatic_optimization_day,
            portfolio.funded,
            portfolio.targets_changed,
            portfolio.cooldown_waived,
            portfolio.deferred,
        ),
    )
    if refined.carried is not None:
        updated = updated.carry(refined.carried)
    needs_adjustment = plan.non_tradable_targets if policy.model_id is not None else ()
    return Evaluation(updated, optimization, decision.record, None, superseded, needs_adjustment)


def submit_external(
    portfolio: Portfolio,
    orders: Sequence[ExternalOrder],
    prices: Prices,
    *,
    optimization_id: str,
    now: datetime,
    max_price_age: timedelta,
    run_type: RunType = RunType.FULL_REBALANCE,
    client_holdings_wait: timedelta | None = None,
) -> Evaluation:
    """An optimization computed outside rebal, validated against holdings, cash and prices."""
    require_aware(now)
    gates = (
        ("inactive", not portfolio.settings.active, PORTFOLIO_INACTIVE),
        ("blocked", portfolio.blocked_by is not None, BLOCKED),
        (
            "awaiting_client_holdings",
            portfolio.awaits_client_holdings(now, client_holdings_wait),
            AWAITING_CLIENT_HOLDINGS,
        ),
        (
            "platform_optimizer",
            portfolio.settings.optimizer is not OptimizerMode.EXTERNAL,
            "OPTIMIZER_NOT_EXTERNAL",
        ),
    )
    record: list[ConditionEvaluation] = []
    for name, met, refusal in gates:
        record.append(ConditionEvaluation(name, met))
        if met:
            return Evaluation(portfolio, None, tuple(record), refusal)
    late = late_client_holdings(portfolio, now, client_holdings_wait)
    if late is not None:
        record.insert(3, late[0])  # after the gate it lifted
    symbols = {order.symbol for order in orders}
    reasons = tuple(valuation_problems(symbols & set(prices), prices, now, max_price_age))
    reasons += validate_external(orders, portfolio.holdings, portfolio.cash, prices)
    record.append(
        ConditionEvaluation(
            "external_orders_valid", not reasons, detail=", ".join(r.code for r in reasons)
        )
    )
    valid = not reasons and bool(orders)
    if late is not None:
        reasons += (late[1],)
    plan = OrderPlan(external_orders(orders, prices) if valid else (), reasons=reasons)
    trigger = Trigger(TriggerReason.EXTERNAL, Initiator.API)
    optimization = _optimization(
        portfolio, optimization_id, run_type, trigger, plan, tuple(record), now, (), None, None
    )
    updated, superseded = portfolio.evaluated(
        optimization, waiting=portfolio.waiting_for, client_holdings_late=late is not None
    )
    return Evaluation(updated, optimization, tuple(record), None, superseded)


def _optimization(
    portfolio: Portfolio,
    optimization_id: str,
    run_type: RunType,
    trigger: Trigger,
    plan: OrderPlan,
    record: tuple[ConditionEvaluation, ...],
    now: datetime,
    weights: tuple[Weight, ...],
    model_id: str | None,
    amount: Decimal | None,
) -> Optimization:
    created = Optimization(
        optimization_id=optimization_id,
        portfolio_id=portfolio.portfolio_id,
        run_type=run_type,
        trigger=trigger.reason,
        initiated_from=trigger.initiated_from,
        mandate=portfolio.settings.mandate,
        is_recommended=plan.is_recommended,
        orders=plan.orders,
        skipped_orders=plan.skipped_orders,
        reasons=plan.reasons,
        decision=record,
        weights=weights,
        created_at=now,
        model_id=model_id,
        amount=amount,
        shortfall=plan.shortfall,
    )
    return created.first_move(now)


def _waiting(
    portfolio: Portfolio, trigger: Trigger, decision: RunDecision, plan_reasons: Sequence[Reason]
) -> Waiting | None:
    """What the portfolio waits for after this evaluation: the price or model it missed now,
    the same as before when a gate stopped it first, nothing once it could be evaluated."""
    if trigger.reason in NOT_RESUMED:
        return portfolio.waiting_for
    missing = decision.missing
    symbol = first_missing_price(plan_reasons)
    if missing is None and symbol is not None:
        missing = ("price", symbol)
    if missing is not None:
        return waiting_for(trigger, *missing)
    if decision.run_type is None and decision.rule in _GATE_RULES:
        return portfolio.waiting_for
    return None


def _note_deferred_model_change(
    portfolio: Portfolio, trigger: Trigger, decision: RunDecision
) -> Portfolio:
    if trigger.reason is TriggerReason.MODEL_CHANGED and decision.rule in _DEFERRING_RULES:
        return portfolio.defer_model_change()
    return portfolio
