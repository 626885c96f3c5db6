"""The decision record every evaluation leaves (domain/record.py): the model and its revision,
every position with its quantity, target, price and drift, the checks, and the rule that decided;
a drift band is met when the drift reaches it."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from rebal_optimizer.domain import RunType

from .conftest import Env, held
from .test_conditions import BALANCED, DRIFTED, MODEL, NOW, line, run, run_type


def test_a_drift_that_reaches_the_band_is_met(trading_days) -> None:
    at_band = replace(BALANCED, holdings={"A": D(55), "B": D(45)})  # 55% vs 50 ± 5
    evaluation = run(at_band, "nightly", trading_days)
    band = line(evaluation, "drift_band.absolute")
    assert band.met and band.value == D(5) and band.threshold == D(5)
    assert run_type(evaluation) is RunType.FULL_REBALANCE
    inside = replace(BALANCED, holdings={"A": D("54.99"), "B": D("45.01")})
    assert not line(run(inside, "nightly", trading_days), "drift_band.absolute").met


def test_the_record_shows_model_positions_prices_and_drift(trading_days) -> None:
    model = replace(MODEL, revision="model-event-1")
    evaluation = run(DRIFTED, "nightly", trading_days, model=model)
    seen = line(evaluation, "model")
    assert seen.value == "m1" and seen.detail == "revision=model-event-1 status=active"
    a = line(evaluation, "position.A")
    assert a.met  # A's drift reaches the 5-point band
    assert (a.value, a.threshold) == ("60", "50")  # quantity held, target percent
    assert a.detail == (f"price=10 as_of={NOW.isoformat()} weight=60 absolute=10 relative=20")
    b = line(evaluation, "position.B")
    assert b.met and b.value == "40"
    cash = line(evaluation, "position.cash")
    assert not cash.met and (cash.value, cash.threshold) == ("0", "0")
    names = [c.name for c in evaluation.decision]
    assert names.index("position.cash") < names.index("inactive")  # what it saw, then checks


def test_an_unpriced_holding_is_shown_without_drift(trading_days) -> None:
    with_gold = replace(DRIFTED, holdings={**DRIFTED.holdings, "GLD": D(1)})
    evaluation = run(with_gold, "nightly", trading_days)
    gold = line(evaluation, "position.GLD")
    assert (
        gold.detail == "price=none" and not gold.met and (gold.value, gold.threshold) == ("1", "0")
    )
    assert "weight=" not in line(evaluation, "position.A").detail
    assert evaluation.rule == "PRICE_MISSING"


def test_a_stop_names_its_rule_and_keeps_the_record(trading_days) -> None:
    evaluation = run(BALANCED, "nightly", trading_days)
    assert evaluation.optimization is None and evaluation.rule == "IN_BAND"
    cooling = run(replace(DRIFTED, last_rebalanced_at=NOW.date()), "nightly", trading_days)
    assert cooling.rule == "COOLDOWN" and line(cooling, "in_cooldown").met


async def test_every_scope_portfolio_request_is_answered(env: Env) -> None:
    await env.settings("p-empty", target_weights=None)
    await env.request(scope="portfolio", portfolio_id="p-empty", reason="nightly")
    assert held(env.new()) == ["NO_PORTFOLIO_VALUE"]
    await env.funded("p1")
    env.new()
    await env.request(scope="portfolio", portfolio_id="p1", reason="drift_sweep")
    assert held(env.new()) == ["BLOCKED"]
