"""After the orders are generated: the cost gate (cost_gate.py) may skip a full rebalance, and
what earlier runs carried forward below the minimum is joined (carry_forward.py)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from rebal_optimizer.domain.allocation import PRECISION
from rebal_optimizer.domain.carry_forward import TradingBook, carry_forward
from rebal_optimizer.domain.cost_gate import cost_gate
from rebal_optimizer.domain.enums import RunType
from rebal_optimizer.domain.model_portfolio import HUNDRED, ZERO, TargetWeights
from rebal_optimizer.domain.order_plan import OrderPlan
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.triggers import ConditionEvaluation


@dataclass(frozen=True, slots=True)
class RefinedPlan:
    plan: OrderPlan
    record: tuple[ConditionEvaluation, ...] = ()  # decision record lines to append
    carried: dict[str, Decimal] | None = None  # what the portfolio carries from now; None: as is


def refine_plan(
    plan: OrderPlan,
    run_type: RunType,
    portfolio: Portfolio,
    targets: TargetWeights,
    prices: Prices,
    *,
    reserved_cash: Decimal = ZERO,
    estimated_tax: Decimal = ZERO,
) -> RefinedPlan:
    """`targets`: the policy's target weights (without the cash buffer). `estimated_tax`: the
    tax the plan's sells would realize, for the cost gate (0 until lots estimate it)."""
    if plan.failed:
        return RefinedPlan(plan)
    settings = portfolio.settings
    effective = targets.with_cash_buffer(settings.cash_buffer_percent)
    unit = {s: q.price for s, q in prices.items()}
    with localcontext(prec=PRECISION):
        values = {s: q * unit[s] for s, q in portfolio.holdings.items() if s in unit}
    record: tuple[ConditionEvaluation, ...] = ()
    gated = run_type is RunType.FULL_REBALANCE and settings.cost_gate_threshold > 0
    if gated and plan.orders:
        verdict = cost_gate(
            plan.orders,
            values,
            portfolio.cash,
            effective,
            settings.cost_model,
            settings.cost_gate_threshold,
            estimated_tax,
        )
        record = (verdict.record_line(),)
        if verdict.skips:
            return RefinedPlan(OrderPlan((), reasons=(verdict.reason(),)), record)
    if not settings.carry_forward_skipped:
        return RefinedPlan(plan, record)
    with localcontext(prec=PRECISION):
        total = portfolio.cash + sum(values.values(), ZERO)
        cash_target = (total - reserved_cash) * effective.cash / HUNDRED + reserved_cash
    book = TradingBook(
        prices=unit,
        held=portfolio.holdings,
        whole=frozenset(
            s for s, q in prices.items() if not (settings.fractional_trading and q.fractionable)
        ),
        wanted=frozenset(set(targets.assets) | set(portfolio.holdings)),
        spare_cash=max(ZERO, portfolio.cash - cash_target),
        min_notional=settings.min_order_notional,
    )
    outcome = carry_forward(plan, portfolio.carried, book)
    if not outcome.plan.is_recommended:  # no run: the carried amounts wait for one
        return RefinedPlan(plan, record)
    return RefinedPlan(outcome.plan, record, outcome.carried)
