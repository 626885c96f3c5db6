"""The cost gate: the cost estimate (commission + half-spread + tax seam), the value of the drift
a rebalance removes, the threshold's edges, and a gated rebalance through the handlers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    InvalidSettings,
    PortfolioSettings,
    Price,
    RunType,
    Side,
    TargetWeights,
    generate_orders,
)
from rebal_optimizer.domain.cost_gate import cost_gate, drift_reduction_value, estimated_cost
from rebal_optimizer.domain.cost_model import CostModel
from rebal_optimizer.domain.order_plan import Order
from rebal_optimizer.domain.plan_refinement import refine_plan
from rebal_optimizer.domain.portfolio import Portfolio

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
TARGETS = TargetWeights({"SPY": D(60), "TLT": D(40)}, D(0))
VALUES = {"SPY": D(70), "TLT": D(30)}  # 10 USD misplaced: SPY over, TLT under
TRADES = (
    Order(1, "SPY", Side.SELL, D(10), D(10), D(1)),
    Order(2, "TLT", Side.BUY, D(10), D(10), D(1)),
)


def test_cost_is_commission_per_order_plus_half_the_spread_on_the_notional() -> None:
    model = CostModel(D("0.50"), D(10), (("TLT", D(30)),))
    # SPY: 0.50 + 10 x 5 bp = 0.505; TLT: 0.50 + 10 x 15 bp = 0.515
    assert estimated_cost(TRADES, model) == D("1.02")
    assert estimated_cost(TRADES, model, estimated_tax=D("3.10")) == D("4.12")  # the tax seam
    assert estimated_cost((), model) == D("0.00")


def test_drift_reduction_value_is_the_usd_put_back_in_place() -> None:
    assert drift_reduction_value(VALUES, D(0), TARGETS, TRADES) == D("10.00")
    half = (TRADES[0], Order(2, "TLT", Side.BUY, D(5), D(5), D(1)))  # 5 USD left in cash
    assert drift_reduction_value(VALUES, D(0), TARGETS, half) == D("5.00")
    churn = (
        Order(1, "TLT", Side.SELL, D(5), D(5), D(1)),
        Order(2, "TLT", Side.BUY, D(5), D(5), D(1)),
    )
    assert drift_reduction_value(VALUES, D(0), TARGETS, churn) == D("0.00")
    overshoot = (
        Order(1, "SPY", Side.SELL, D(30), D(30), D(1)),
        Order(2, "TLT", Side.BUY, D(30), D(30), D(1)),
    )
    # 70/30 -> 40/60 is as far off as before, on the other side: worth nothing
    assert drift_reduction_value(VALUES, D(0), TARGETS, overshoot) == D("0.00")


@pytest.mark.parametrize(
    ("threshold", "skips"),
    [
        (D("0.0999"), True),  # limit 0.999 -> 1.00 < cost 1.01
        (D("0.101"), False),  # limit exactly 1.01: a cost equal to it trades
        (D("0.2"), False),
        (D("0"), False),  # off
    ],
)
def test_the_gate_skips_only_a_cost_strictly_above_threshold_times_value(
    threshold: D, skips: bool
) -> None:
    model = CostModel(D("0.50"), D(10))  # 1.00 commission + 20 x 5 bp = 1.01
    verdict = cost_gate(TRADES, VALUES, D(0), TARGETS, model, threshold)
    assert (verdict.cost, verdict.value) == (D("1.01"), D("10.00"))
    assert verdict.skips is skips
    line = verdict.record_line()
    assert (line.name, line.met, line.value, line.threshold) == (
        "cost_gate",
        skips,
        D("1.01"),
        threshold,
    )
    assert "1.01" in line.detail and "10.00" in line.detail


def _plan_and_refine(settings: PortfolioSettings, run_type: RunType = RunType.FULL_REBALANCE):
    prices = {s: Price(D(1), True, True, NOW) for s in ("SPY", "TLT")}
    portfolio = Portfolio("p", {"SPY": D(70), "TLT": D(30)}, D(0), settings)
    plan = generate_orders(
        run_type, portfolio.holdings, portfolio.cash, TARGETS, prices, settings, NOW, timedelta(1)
    )
    return plan, refine_plan(plan, run_type, portfolio, TARGETS, prices)


def test_a_gated_full_rebalance_trades_nothing_and_says_why() -> None:
    settings = PortfolioSettings(commission_per_order=D(1), cost_gate_threshold=D("0.1"))
    plan, refined = _plan_and_refine(settings)
    assert plan.is_recommended
    assert not refined.plan.is_recommended and not refined.plan.failed
    (reason,) = refined.plan.reasons
    assert reason.code == "COST_GATE" and "2.00" in reason.detail
    assert refined.record[0].met is True


def test_the_gate_is_off_by_default_and_for_other_run_types() -> None:
    plan, refined = _plan_and_refine(PortfolioSettings(commission_per_order=D(100)))
    assert refined.plan == plan and refined.record == ()
    gated = PortfolioSettings(commission_per_order=D(100), cost_gate_threshold=D("0.01"))
    plan, refined = _plan_and_refine(gated, RunType.INVEST_CASH)
    assert refined.record == ()


def test_cost_settings_are_validated() -> None:
    with pytest.raises(InvalidSettings):
        PortfolioSettings(cost_gate_threshold=D("-0.1"))
    with pytest.raises(InvalidSettings):
        PortfolioSettings(spread_bps_by_symbol={"SPY": D(-1)})  # type: ignore[arg-type]
    mapped = PortfolioSettings(spread_bps_by_symbol={"TLT": D(3), "SPY": D(2)})  # type: ignore[arg-type]
    assert mapped.spread_bps_by_symbol == (("SPY", D(2)), ("TLT", D(3)))
    assert mapped.cost_model.spread_of("TLT") == D(3) and mapped.cost_model.spread_of("X") == 0


def test_the_cost_settings_arrive_from_the_wire_and_survive_the_store() -> None:
    from rebal_optimizer.adapters.domain_json import settings_json, settings_of
    from rebal_optimizer.service_layer.inputs import patched_settings
    from rebal_schemas import PortfolioSettingsChanged

    event = PortfolioSettingsChanged(
        portfolio_id="p",
        commission_per_order=D("0.35"),
        spread_bps=D("2.5"),
        spread_bps_by_symbol={"TLT": D(4)},
        cost_gate_threshold=D("0.02"),
        carry_forward_skipped=True,
        producer="test",
    )
    assert PortfolioSettingsChanged.model_validate_json(event.model_dump_json()) == event
    patched = patched_settings(PortfolioSettings(), event)
    assert patched.cost_model == CostModel(D("0.35"), D("2.5"), (("TLT", D(4)),))
    assert patched.cost_gate_threshold == D("0.02") and patched.carry_forward_skipped
    assert settings_of(settings_json(patched)) == patched
    older = {
        k: v
        for k, v in settings_json(PortfolioSettings()).items()
        if k not in {"commission_per_order", "spread_bps", "spread_bps_by_symbol"}
        and k not in {"cost_gate_threshold", "carry_forward_skipped"}
    }
    assert settings_of(older) == PortfolioSettings()  # a document from before the settings
    kept = patched_settings(patched, PortfolioSettingsChanged(portfolio_id="p", producer="test"))
    assert kept == patched


def test_the_wire_refuses_a_negative_spread_or_threshold() -> None:
    from pydantic import ValidationError

    from rebal_schemas import PortfolioSettingsChanged

    with pytest.raises(ValidationError):
        PortfolioSettingsChanged(portfolio_id="p", spread_bps="-1", producer="t")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        PortfolioSettingsChanged(portfolio_id="p", cost_gate_threshold="0.12345", producer="t")  # type: ignore[arg-type]


async def test_a_costly_rebalance_is_not_recommended_through_the_handlers(env) -> None:
    from rebal_schemas import OptimizationCreated
    from rebal_schemas import RebalanceCondition as WireCondition

    await env.price("SPY", "100")
    await env.price("TLT", "50")
    band = WireCondition(type="drift_band", sub_type="absolute", percent=D(5))
    await env.model("m1", conditions=(band,))
    # 50 USD commission per order against a 6 % drift (600 USD misplaced of 10,000): the two
    # orders cost 100 USD, above 0.1 x 600 = 60 USD
    await env.settings("p", model_id="m1", commission_per_order=D(50), cost_gate_threshold=D("0.1"))
    await env.holdings("p", "500", SPY="66", TLT="68")
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert opt.status == "NOT_RECOMMENDED" and not opt.orders
    assert opt.reasons[0].code == "COST_GATE"
    (line,) = [c for c in opt.decision if c.name == "cost_gate"]
    assert line.met and line.threshold == "0.1"
