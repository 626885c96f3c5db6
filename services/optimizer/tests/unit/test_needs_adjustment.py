"""A symbol the price feed calls ineligible (not tradable; not fractionable where subscribers
trade fractions) makes every active model holding it `needs_adjustment` at once, unless the
model names a fallback: then its subscribers trade the fallback instead. A model.updated that
removes or replaces the symbol makes it `active` again. Every status change: model.status_changed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from rebal_optimizer.domain import PortfolioSettings, Price, RunType, TargetWeights, generate_orders
from rebal_schemas import (
    ModelStatusChanged,
    OptimizationCreated,
    PriceUpdated,
    RebalanceRequested,
)

from .conftest import MAX_AGE, NOW, Env, held, weights


def statuses(events: list) -> list[ModelStatusChanged]:
    return [e for e in events if isinstance(e, ModelStatusChanged)]


async def test_a_symbol_no_longer_tradable_needs_adjustment_at_once(env: Env) -> None:
    await env.funded("p1", "m1", mandate="ADVISORY")  # awaiting its owner, not blocked
    await env.model("m-other", weights(TLT="100"))
    env.new()
    env.clock.advance(timedelta(minutes=1))  # a newer quote
    halted = PriceUpdated(symbol="SPY", price=D(100), as_of=env.clock.now(), tradable=False)
    await env.handlers.price_updated(halted)
    (changed,) = env.new()
    assert isinstance(changed, ModelStatusChanged) and changed.model_id == "m1"
    assert (changed.previous_status, changed.status) == ("active", "needs_adjustment")
    assert changed.symbols == ("SPY",) and changed.causation_id == halted.event_id
    assert (await env.store.load("models", "m-other")).state["status"] == "active"
    await env.handlers.price_updated(halted)  # redelivered: said once
    assert env.new() == []
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    assert held(env.new()) == ["MODEL_NEEDS_ADJUSTMENT"]  # no new run for its subscribers


async def test_not_fractionable_matters_only_where_subscribers_trade_fractions(env: Env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m-whole")
    await env.model("m-frac")
    await env.settings("p-whole", model_id="m-whole", fractional_trading=False)
    await env.settings("p-frac", model_id="m-frac")
    env.new()
    env.clock.advance(timedelta(minutes=1))
    await env.price("SPY", "101", fractionable=False)
    (changed,) = env.new()
    assert changed.model_id == "m-frac" and changed.status == "needs_adjustment"
    assert (await env.store.load("models", "m-whole")).state["status"] == "active"


async def test_a_model_update_that_replaces_the_symbol_is_active_again(env: Env) -> None:
    await env.funded("p1", "m1")
    env.clock.advance(timedelta(minutes=1))
    await env.price("SPY", "100", tradable=False)
    env.new()
    await env.model("m1")  # sent again, still holding SPY: still needs adjustment
    assert env.new() == []
    replaced = await env.model("m1", weights(IVV="60", TLT="35", cash="5"))
    changed, request = env.new()
    assert isinstance(changed, ModelStatusChanged) and changed.causation_id == replaced.event_id
    assert (changed.previous_status, changed.status) == ("needs_adjustment", "active")
    assert changed.symbols == ("SPY",)
    assert isinstance(request, RebalanceRequested) and request.reason == "model_changed"


async def test_a_fallback_keeps_the_model_active_and_is_traded_instead(env: Env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.price("VOO", "200")
    await env.model("m1", fallbacks={"SPY": "VOO"})
    await env.settings("p1", model_id="m1")
    env.new()
    env.clock.advance(timedelta(minutes=1))
    await env.price("SPY", "100", tradable=False)
    assert env.new() == []  # the model stays active: no status change to say
    await env.holdings("p1", "10000")
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert opt.status == "READY"
    assert {(o.symbol, o.qty) for o in opt.orders} == {("VOO", D(30)), ("TLT", D(70))}
    assert [w.symbol for w in opt.weights] == ["VOO", "TLT", None]
    fallback = next(c for c in opt.decision if c.name == "fallback.SPY")
    assert fallback.met and fallback.value == "VOO" and fallback.detail == "not tradable"
    (note,) = [r for r in opt.reasons if r.code == "FALLBACK_USED"]
    assert note.detail == "SPY: not tradable: traded as VOO"


async def test_a_fallback_given_later_makes_the_model_active_again(env: Env) -> None:
    await env.funded("p1", "m1")
    env.clock.advance(timedelta(minutes=1))
    await env.price("SPY", "100", tradable=False)
    env.new()
    await env.model("m1", fallbacks={"SPY": "VOO"})
    changed = statuses(env.new())[0]
    assert changed.status == "active" and changed.fallbacks == {"SPY": "VOO"}


def test_a_held_ineligible_symbol_is_kept_and_counts_toward_its_fallback() -> None:
    prices = {
        "SPY": Price(D(100), False, True, NOW),
        "VOO": Price(D(100), True, True, NOW),
        "TLT": Price(D(50), True, True, NOW),
    }
    targets = TargetWeights({"VOO": D(60), "TLT": D(40)})  # SPY's 60 mapped to VOO
    plan = generate_orders(
        RunType.FULL_REBALANCE,
        {"SPY": D(20)},  # 2,000 of SPY that cannot be sold
        D(8000),
        targets,
        prices,
        PortfolioSettings(),
        NOW,
        MAX_AGE,
        fallbacks={"SPY": "VOO"},
    )
    assert not plan.failed
    assert {(o.symbol, o.side, o.qty) for o in plan.orders} == {
        ("VOO", "buy", D(40)),  # 6,000 target - 2,000 of SPY kept
        ("TLT", "buy", D(80)),
    }
