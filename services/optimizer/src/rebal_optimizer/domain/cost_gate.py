"""The cost gate: skip a full rebalance that costs more than the drift it removes is worth.

Estimated cost of a plan, in USD:
    sum over its orders of (commission_per_order + notional x spread_bps(symbol) / 2 / 10,000)
    + the estimated tax of its sells (a parameter: 0 until the lot accounting estimates it).
An order crosses half the bid-ask spread, so half the spread is what it pays on its notional.

Value of the drift reduction, in USD: the dollars the plan puts back where the target wants
them,
    portfolio value x (sum |w_before - t| - sum |w_after - t|) / 2
over every targeted or held asset and cash (weights and targets as fractions, targets with the
cash buffer). Half, because one misplaced dollar shows twice: overweight where it is and
underweight where it should be. A plan moving 1,000 USD from an overweight stock into an
underweight bond is worth 1,000 USD; one that churns without reducing drift is worth 0.

The gate: `cost > cost_gate_threshold x value` skips the rebalance (`COST_GATE`), the figures in
the decision record. The threshold is a ratio, so "0.01" reads "trading may cost at most 1 % of
the dollars it puts back in place". `0` (the default) turns the gate off: today's behaviour.
Why this and not "cost in bps of the portfolio": a fixed bps floor says nothing about how far
off the portfolio is; the misplaced dollars do, and they are in the same unit as the cost, so
the threshold needs no second calibration (no "value of a point of drift").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext

from rebal_optimizer.domain.cost_model import CostModel
from rebal_optimizer.domain.enums import Side
from rebal_optimizer.domain.model_portfolio import HUNDRED, ZERO, TargetWeights
from rebal_optimizer.domain.order_plan import Order
from rebal_optimizer.domain.reasons import COST_GATE, Reason
from rebal_optimizer.domain.triggers import ConditionEvaluation

_PRECISION = 40
_CENT = Decimal("0.01")


def estimated_cost(
    orders: Iterable[Order], model: CostModel, estimated_tax: Decimal = ZERO
) -> Decimal:
    """Commission and half-spread of every order, plus `estimated_tax` (the seam for the tax a
    plan's sells realize), rounded to cents."""
    with localcontext(prec=_PRECISION):
        total = sum((model.order_cost(o.symbol, o.notional) for o in orders), ZERO) + estimated_tax
    return total.quantize(_CENT)


def drift_reduction_value(
    values: Mapping[str, Decimal],
    cash: Decimal,
    targets: TargetWeights,
    orders: Iterable[Order],
) -> Decimal:
    """The USD the orders put back in place (module docstring). `values`: market value per
    held symbol before the plan; the orders trade at their notionals."""
    after = dict(values)
    cash_after = cash
    for order in orders:
        sign = 1 if Side(order.side) is Side.BUY else -1
        after[order.symbol] = after.get(order.symbol, ZERO) + sign * order.notional
        cash_after -= sign * order.notional
    with localcontext(prec=_PRECISION):
        total = cash + sum(values.values(), ZERO)
        if total <= 0:
            return ZERO
        misplaced_before = _misplaced(values, cash, targets, total)
        misplaced_after = _misplaced(after, cash_after, targets, total)
        return max(ZERO, (misplaced_before - misplaced_after) / 2).quantize(_CENT)


def _misplaced(
    values: Mapping[str, Decimal], cash: Decimal, targets: TargetWeights, total: Decimal
) -> Decimal:
    """Sum of |value - target value| over every asset and cash, in USD."""
    symbols = set(values) | set(targets.assets)
    assets = sum(
        (abs(values.get(s, ZERO) - total * targets.assets.get(s, ZERO) / HUNDRED) for s in symbols),
        ZERO,
    )
    return assets + abs(cash - total * targets.cash / HUNDRED)


@dataclass(frozen=True, slots=True)
class CostGateVerdict:
    cost: Decimal
    value: Decimal
    threshold: Decimal

    @property
    def skips(self) -> bool:
        return self.threshold > 0 and self.cost > self.threshold * self.value

    def record_line(self) -> ConditionEvaluation:
        return ConditionEvaluation(
            "cost_gate",
            self.skips,
            value=self.cost,
            threshold=self.threshold,
            detail=self.detail,
        )

    @property
    def detail(self) -> str:
        verb = "exceeds" if self.skips else "is within"
        limit = (self.threshold * self.value).quantize(_CENT)
        return (
            f"estimated cost {self.cost} USD {verb} {self.threshold} x drift reduction value "
            f"{self.value} USD = {limit} USD"
        )

    def reason(self) -> Reason:
        return Reason(COST_GATE, None, self.detail)


def cost_gate(
    orders: tuple[Order, ...],
    values: Mapping[str, Decimal],
    cash: Decimal,
    targets: TargetWeights,
    model: CostModel,
    threshold: Decimal,
    estimated_tax: Decimal = ZERO,
) -> CostGateVerdict:
    """The figures of the gate for one full rebalance's orders (`skips`: the plan is dropped)."""
    return CostGateVerdict(
        estimated_cost(orders, model, estimated_tax),
        drift_reduction_value(values, cash, targets, orders),
        threshold,
    )
