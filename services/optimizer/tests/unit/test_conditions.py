"""Evaluation order and conditions (Alpaca: inactive/blocked → cooldown → calendar → drift;
invest_cash otherwise; one automatic optimization per trading day)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    OWN_WEIGHTS_WHILE_SUBSCRIBED,
    Evaluation,
    Initiator,
    ModelPortfolio,
    ModelStatus,
    OptimizationStatus,
    OptimizerMode,
    Portfolio,
    PortfolioSettings,
    Price,
    RebalanceCondition,
    RebalanceTo,
    RunType,
    Trigger,
    TriggerReason,
    Weight,
)
from rebal_optimizer.domain import evaluation as domain_evaluation

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)  # Wednesday
TODAY = date(2026, 3, 4)
BAND = RebalanceCondition("drift_band", "absolute", percent=D(5))
MONTHLY = RebalanceCondition("calendar", "monthly", day="1")
MODEL = ModelPortfolio(
    "m1",
    "Balanced",
    (Weight("asset", "A", D(50)), Weight("asset", "B", D(50))),
    cooldown_days=31,
    rebalance_conditions=(BAND, MONTHLY),
)
PRICES = {"A": Price(D(10), True, True, NOW), "B": Price(D(10), True, True, NOW)}
SUBSCRIBED = PortfolioSettings(model_id="m1")
BALANCED = Portfolio("P1", {"A": D(50), "B": D(50)}, D(0), SUBSCRIBED, funded=True)
DRIFTED = replace(BALANCED, holdings={"A": D(60), "B": D(40)})  # A at 60% vs 50 ± 5


def run(
    portfolio: Portfolio,
    reason: str | Trigger,
    trading_days,
    *,
    model: ModelPortfolio | None = MODEL,
    prices: dict[str, Price] = PRICES,
    today: date = TODAY,
    optimization_id: str = "O1",
) -> Evaluation:
    trigger = reason if isinstance(reason, Trigger) else Trigger(TriggerReason(reason))
    return domain_evaluation.evaluate(
        portfolio,
        trigger,
        model,
        prices,
        optimization_id=optimization_id,
        now=NOW,
        today=today,
        trading_days=trading_days,
        max_price_age=timedelta(minutes=15),
    )


def line(evaluation: Evaluation, name: str):
    return next(c for c in evaluation.decision if c.name == name)


def run_type(evaluation: Evaluation) -> RunType | None:
    return None if evaluation.optimization is None else evaluation.optimization.run_type


@pytest.mark.parametrize(
    ("change", "stopper"),
    [
        ({"settings": PortfolioSettings(model_id="m1", active=False)}, "inactive"),
        ({"blocked_by": "O0", "blocked_run_type": RunType.FULL_REBALANCE}, "blocked"),
        ({"awaiting_client_holdings_after": NOW}, "awaiting_client_holdings"),
        (
            {"settings": PortfolioSettings(model_id="m1", optimizer=OptimizerMode.EXTERNAL)},
            "external_optimizer",
        ),
    ],
)
def test_gates_stop_before_any_condition(
    trading_days, change: dict[str, object], stopper: str
) -> None:
    evaluation = run(replace(DRIFTED, **change), "nightly", trading_days)  # type: ignore[arg-type]
    assert evaluation.optimization is None
    assert evaluation.decision[-1].name == stopper and evaluation.decision[-1].met
    assert evaluation.portfolio == replace(DRIFTED, **change)  # type: ignore[arg-type]


def test_drift_band_breach_triggers_full_rebalance(trading_days) -> None:
    evaluation = run(DRIFTED, "nightly", trading_days)
    assert run_type(evaluation) is RunType.FULL_REBALANCE
    band = line(evaluation, "drift_band.absolute")
    assert band.met and band.value == D(10) and band.threshold == D(5) and band.detail == "A"


def test_no_breach_no_optimization_but_a_record(trading_days) -> None:
    evaluation = run(BALANCED, "nightly", trading_days)
    assert evaluation.optimization is None
    assert [(c.name, c.met) for c in evaluation.decision][-4:] == [
        ("targets_changed", False),
        ("calendar", False),
        ("drift_band.absolute", False),
        ("invest_cash", False),
    ]


def test_relative_band_is_percent_of_target(trading_days) -> None:
    relative = replace(
        MODEL, rebalance_conditions=(RebalanceCondition("drift_band", "relative", percent=D(10)),)
    )
    slightly = replace(BALANCED, holdings={"A": D("55.1"), "B": D("44.9")})  # 55.1% vs 50
    evaluation = run(slightly, "drift_sweep", trading_days, model=relative)
    assert line(evaluation, "drift_band.relative").value == D("10.2")
    assert run_type(evaluation) is RunType.FULL_REBALANCE


def test_cooldown_stops_drift_rebalance_but_not_invest_cash(trading_days) -> None:
    cooling = replace(DRIFTED, last_rebalanced_at=TODAY - timedelta(days=5))
    assert run(cooling, "nightly", trading_days).optimization is None
    cooldown = line(run(cooling, "nightly", trading_days), "in_cooldown")
    assert cooldown.met and (cooldown.value, cooldown.threshold) == (D(5), D(31))
    with_cash = replace(cooling, cash=D(200))
    evaluation = run(with_cash, "nightly", trading_days)
    assert run_type(evaluation) is RunType.INVEST_CASH
    assert all(o.side == "buy" for o in evaluation.optimization.orders)  # type: ignore[union-attr]


def test_band_edge_repairs_a_breach_inside_the_cooldown(trading_days) -> None:
    edge = PortfolioSettings(model_id="m1", rebalance_to=RebalanceTo.BAND_EDGE)
    cooling = replace(DRIFTED, settings=edge, last_rebalanced_at=TODAY - timedelta(days=5))
    evaluation = run(cooling, "nightly", trading_days)
    assert line(evaluation, "in_cooldown").met and line(evaluation, "drift_band.absolute").met
    assert run_type(evaluation) is RunType.FULL_REBALANCE
    assert [r.code for r in evaluation.optimization.reasons] == ["BAND_EDGE"]  # type: ignore[union-attr]
    # the portfolio's A at 60 % goes back to the edge with the margin, not to the 50 % target
    sold = {o.symbol: o.notional for o in evaluation.optimization.orders if o.side == "sell"}  # type: ignore[union-attr]
    assert sold == {"A": D("60.00")}


def test_band_edge_in_band_or_on_the_calendar_still_waits_out_the_cooldown(trading_days) -> None:
    edge = PortfolioSettings(model_id="m1", rebalance_to=RebalanceTo.BAND_EDGE)
    within = replace(BALANCED, settings=edge, last_rebalanced_at=TODAY - timedelta(days=5))
    assert run(within, "nightly", trading_days).optimization is None
    calendar = Trigger(TriggerReason.CALENDAR, model_id="m1")
    evaluation = run(within, calendar, trading_days)
    assert evaluation.optimization is None
    assert all(c.name != "calendar" for c in evaluation.decision)


def test_cooldown_is_calendar_days_since_last_completed_rebalance(trading_days) -> None:
    ended = replace(DRIFTED, last_rebalanced_at=TODAY - timedelta(days=31))
    assert run_type(run(ended, "nightly", trading_days)) is RunType.FULL_REBALANCE


def test_calendar_trigger_for_the_model_rebalances(trading_days) -> None:
    evaluation = run(BALANCED, Trigger(TriggerReason.CALENDAR, model_id="m1"), trading_days)
    assert line(evaluation, "calendar").met
    # balanced already: computed, but nothing to trade
    assert evaluation.optimization is not None
    assert evaluation.optimization.status is OptimizationStatus.NOT_RECOMMENDED


def test_calendar_of_another_model_or_without_calendar_condition(trading_days) -> None:
    other = run(
        DRIFTED,
        Trigger(TriggerReason.CALENDAR, model_id="m2"),
        trading_days,
        model=replace(MODEL, rebalance_conditions=()),
    )
    assert not line(other, "calendar").met
    no_calendar = run(
        BALANCED, "calendar", trading_days, model=replace(MODEL, rebalance_conditions=(BAND,))
    )
    assert not line(no_calendar, "calendar").met and no_calendar.optimization is None


def test_calendar_inside_cooldown_does_not_rebalance(trading_days) -> None:
    cooling = replace(BALANCED, last_rebalanced_at=TODAY - timedelta(days=1))
    evaluation = run(cooling, Trigger(TriggerReason.CALENDAR, model_id="m1"), trading_days)
    assert evaluation.optimization is None
    assert all(c.name != "calendar" for c in evaluation.decision)  # cooldown stopped it first


def test_one_automatic_optimization_per_trading_day(trading_days) -> None:
    first = run(DRIFTED, "nightly", trading_days)
    assert first.portfolio.last_automatic_optimization_day == TODAY
    unblocked = replace(first.portfolio, blocked_by=None, blocked_run_type=None)
    again = run(unblocked, "drift_sweep", trading_days, optimization_id="O2")
    assert again.optimization is None and line(again, "daily_limit").met
    manual = run(unblocked, Trigger(TriggerReason.MANUAL, Initiator.API), trading_days)
    assert run_type(manual) is RunType.FULL_REBALANCE  # manual runs are exempt
    tomorrow = run(unblocked, "nightly", trading_days, today=TODAY + timedelta(days=1))
    assert tomorrow.optimization is not None


def test_weekend_evaluation_counts_against_friday(trading_days) -> None:
    friday, saturday = date(2026, 3, 6), date(2026, 3, 7)
    ran_friday = replace(DRIFTED, last_automatic_optimization_day=friday)
    evaluation = run(ran_friday, "nightly", trading_days, today=saturday)
    assert evaluation.optimization is None
    assert line(evaluation, "daily_limit").value == "2026-03-06"


def test_first_funding_gives_full_rebalance(trading_days) -> None:
    new = Portfolio("P1", {}, D(1000), SUBSCRIBED)
    evaluation = run(new, "deposit", trading_days)
    assert run_type(evaluation) is RunType.FULL_REBALANCE
    assert line(evaluation, "first_funding").met
    assert evaluation.portfolio.funded


def test_first_funding_below_threshold_waits(trading_days) -> None:
    no_bands = replace(MODEL, rebalance_conditions=())  # a band would see 100% cash drift
    evaluation = run(
        Portfolio("P1", {}, D(10), SUBSCRIBED), "deposit", trading_days, model=no_bands
    )
    assert evaluation.optimization is None and not evaluation.portfolio.funded
    assert not line(evaluation, "first_funding").met


@pytest.mark.parametrize(("cash", "expected"), [(D("10.01"), RunType.INVEST_CASH), (D(10), None)])
def test_deposit_invests_cash_above_threshold(
    trading_days, cash: D, expected: RunType | None
) -> None:
    evaluation = run(replace(BALANCED, cash=cash), "deposit", trading_days)
    assert run_type(evaluation) is expected
    assert line(evaluation, "invest_cash").threshold == D(10)


def test_withdrawal_request_starts_withdrawal_run(trading_days) -> None:
    evaluation = run(
        replace(DRIFTED, pending_withdrawal=D(100), last_rebalanced_at=TODAY - timedelta(days=1)),
        "withdrawal",
        trading_days,
    )
    assert evaluation.optimization is not None
    assert (evaluation.optimization.run_type, evaluation.optimization.amount) == (
        RunType.WITHDRAWAL,
        D(100),
    )
    assert [o.symbol for o in evaluation.optimization.orders] == ["A"]  # overweight first
    assert run(BALANCED, "withdrawal", trading_days).optimization is None


def test_manual_own_weights_refused_while_following_a_model(trading_days) -> None:
    manual = Trigger(TriggerReason.MANUAL, Initiator.API, weights=(Weight("asset", "A", D(100)),))
    evaluation = run(DRIFTED, manual, trading_days)
    assert evaluation.optimization is None
    assert evaluation.rule == OWN_WEIGHTS_WHILE_SUBSCRIBED


def test_manual_one_off_weights_without_model(trading_days) -> None:
    own = Portfolio(
        "P1",
        {"A": D(50), "B": D(50)},
        D(0),
        PortfolioSettings(own_weights=(Weight("asset", "A", D(50)), Weight("asset", "B", D(50)))),
        funded=True,
    )
    weights = (Weight("asset", "B", D(100)),)
    evaluation = run(
        own, Trigger(TriggerReason.MANUAL, Initiator.API, weights=weights), trading_days, model=None
    )
    assert evaluation.optimization is not None
    assert evaluation.optimization.weights == weights
    assert [(o.side, o.symbol) for o in evaluation.optimization.orders] == [
        ("sell", "A"),
        ("buy", "B"),
    ]


def test_model_change_re_evaluates_inside_cooldown(trading_days) -> None:
    cooling = replace(DRIFTED, last_rebalanced_at=TODAY - timedelta(days=2))
    evaluation = run(cooling, Trigger(TriggerReason.MODEL_CHANGED, model_id="m1"), trading_days)
    assert run_type(evaluation) is RunType.FULL_REBALANCE
    cooldown = line(evaluation, "in_cooldown")
    assert not cooldown.met and "waived" in cooldown.detail


def test_model_change_while_blocked_is_remembered(trading_days) -> None:
    blocked = replace(
        DRIFTED,
        blocked_by="O0",
        blocked_run_type=RunType.INVEST_CASH,
        last_rebalanced_at=TODAY - timedelta(days=2),
    )
    deferred = run(blocked, Trigger(TriggerReason.MODEL_CHANGED, model_id="m1"), trading_days)
    assert deferred.optimization is None and deferred.portfolio.cooldown_waived
    unblocked = replace(deferred.portfolio, blocked_by=None, blocked_run_type=None)
    later = run(unblocked, "nightly", trading_days)
    assert run_type(later) is RunType.FULL_REBALANCE
    assert not later.portfolio.cooldown_waived


def test_new_subscription_rebalances_at_next_evaluation(trading_days) -> None:
    own = Portfolio(
        "P1",
        {"A": D(100)},
        D(0),
        PortfolioSettings(own_weights=(Weight("asset", "A", D(100)),)),
        funded=True,
        last_rebalanced_at=TODAY - timedelta(days=1),
    )
    subscribed = own.change_settings(SUBSCRIBED)
    assert subscribed.targets_changed
    evaluation = run(
        subscribed, "settings", trading_days, model=replace(MODEL, rebalance_conditions=())
    )
    assert line(evaluation, "targets_changed").met
    assert evaluation.optimization is not None and evaluation.portfolio.blocked_by == "O1"
    assert not evaluation.portfolio.targets_changed


def test_subscription_already_in_place_clears_the_flag(trading_days) -> None:
    subscribed = replace(BALANCED, targets_changed=True, last_rebalanced_at=TODAY)
    evaluation = run(subscribed, "holdings", trading_days)
    assert evaluation.optimization is not None
    assert evaluation.optimization.status is OptimizationStatus.NOT_RECOMMENDED
    assert not evaluation.portfolio.targets_changed


@pytest.mark.parametrize("status", [ModelStatus.NEEDS_ADJUSTMENT, ModelStatus.INACTIVE])
def test_model_not_active_queues_nothing(trading_days, status: ModelStatus) -> None:
    evaluation = run(DRIFTED, "nightly", trading_days, model=MODEL.with_status(status))
    assert evaluation.optimization is None and line(evaluation, "model_not_active").met


def test_unknown_model_queues_nothing(trading_days) -> None:
    evaluation = run(DRIFTED, "nightly", trading_days, model=None)
    assert evaluation.optimization is None and line(evaluation, "no_target_weights").met


def test_non_tradable_model_symbol_stops_the_evaluation_and_is_reported(trading_days) -> None:
    prices = {**PRICES, "B": Price(D(10), False, True, NOW)}
    evaluation = run(DRIFTED, "nightly", trading_days, prices=prices)
    assert evaluation.model_needs_adjustment == ("B",)
    assert evaluation.optimization is None and evaluation.rule == "MODEL_NEEDS_ADJUSTMENT"
    assert line(evaluation, "model_needs_adjustment").detail == "B not tradable"
    assert evaluation.portfolio.blocked_by is None
    assert evaluation.portfolio.last_automatic_optimization_day is None  # may retry today


def test_unvalued_holdings_cannot_breach_bands(trading_days) -> None:
    evaluation = run(DRIFTED, "nightly", trading_days, prices={"B": PRICES["B"]})
    band = line(evaluation, "drift_band.absolute")
    assert not band.met and "PRICE_MISSING:A" in band.detail
    assert evaluation.optimization is None


def test_withdrawal_blocked_at_request_is_picked_up_later(trading_days) -> None:
    requested = replace(DRIFTED, blocked_by="O0", blocked_run_type=RunType.INVEST_CASH)
    requested = requested.request_withdrawal(D(100))
    assert run(requested, "withdrawal", trading_days).optimization is None  # blocked
    unblocked = replace(requested, blocked_by=None, blocked_run_type=None)
    evaluation = run(unblocked, "nightly", trading_days)
    assert line(evaluation, "withdrawal_pending").met
    assert run_type(evaluation) is RunType.WITHDRAWAL


def test_negative_cash_without_withdrawal_is_not_a_withdrawal(trading_days) -> None:
    evaluation = run(replace(DRIFTED, cash=D(-5)), "nightly", trading_days)
    assert not line(evaluation, "withdrawal_pending").met
    assert run_type(evaluation) is RunType.FULL_REBALANCE


def test_naive_now_is_a_caller_bug(trading_days) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        domain_evaluation.evaluate(
            DRIFTED,
            Trigger(TriggerReason.NIGHTLY),
            MODEL,
            PRICES,
            optimization_id="O1",
            now=NOW.replace(tzinfo=None),
            today=TODAY,
            trading_days=trading_days,
            max_price_age=timedelta(minutes=15),
        )


def _walk(value: object):
    """Every leaf of nested dataclasses, tuples and mappings."""
    if hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:  # type: ignore[attr-defined]
            yield from _walk(getattr(value, name))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _walk(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _walk(item)
    else:
        yield value


@pytest.mark.parametrize("reason", ["nightly", "deposit", "withdrawal"])
def test_no_float_anywhere_in_an_evaluation(trading_days, reason: str) -> None:
    portfolio = replace(DRIFTED, cash=D("123.45"), pending_withdrawal=D("50"))
    evaluation = run(portfolio, reason, trading_days)
    assert evaluation.optimization is not None
    leaves = list(_walk(evaluation))
    assert not [leaf for leaf in leaves if isinstance(leaf, float)]
    assert any(isinstance(leaf, D) for leaf in leaves)
