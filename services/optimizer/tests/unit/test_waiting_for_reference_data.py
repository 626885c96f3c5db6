"""An evaluation that missed a price or the model is resumed when it arrives.

Prices, models and portfolio events travel on different topics with no order between them, so
a deposit can be read a moment before the price of what it will buy, or before the model. The
deposit must be invested then, not left idle until some later trigger."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from rebal_optimizer.adapters.portfolio_document import PORTFOLIOS, WAITING_INDEX
from rebal_schemas import OptimizationCreated, OptimizationReady, RebalanceRequested

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import held


def only(events: list, kind: type) -> list:
    return [e for e in events if isinstance(e, kind)]


def line(opt: OptimizationCreated, name: str):  # the decision record's line of that name
    return next(c for c in opt.decision if c.name == name)


async def waiting_ids(env, token: str) -> list[str]:
    return await env.store.query(PORTFOLIOS, WAITING_INDEX, token)


async def test_a_deposit_before_its_prices_is_invested_when_the_prices_arrive(env) -> None:
    await env.model("m1")  # SPY 60, TLT 35, cash 5
    await env.settings("p1", model_id="m1")
    await env.deposit("p1", "10000")
    (failed,) = only(env.new(), OptimizationCreated)
    assert not failed.is_recommended and {r.code for r in failed.reasons} == {"PRICE_MISSING"}
    record = await env.record("p1")
    assert record.portfolio.waiting_for.token == "price:SPY"  # the first missing, by symbol
    assert record.portfolio.waiting_for.trigger.reason == "deposit"
    assert await waiting_ids(env, "price:SPY") == ["p1"]

    await env.price("SPY", "100")  # TLT still missing: now it waits for TLT
    (still,) = only(env.new(), OptimizationCreated)
    assert not still.is_recommended and [r.detail for r in still.reasons] == [
        "TLT: no price received"
    ]
    assert line(still, "waited_for").value == "price:SPY"
    assert await waiting_ids(env, "price:SPY") == []
    assert await waiting_ids(env, "price:TLT") == ["p1"]

    await env.price("TLT", "50")
    events = env.new()
    (invested,) = only(events, OptimizationCreated)
    (ready,) = only(events, OptimizationReady)
    assert invested.is_recommended and invested.run_type == "full_rebalance"  # first funding
    assert invested.trigger == "deposit" and ready.optimization_id == invested.optimization_id
    waited = line(invested, "waited_for")
    assert waited.met and waited.value == "price:TLT" and "deposit" in waited.detail
    assert {(o.symbol, o.side, o.qty) for o in invested.orders} == {
        ("SPY", "buy", D(60)),
        ("TLT", "buy", D(70)),
    }
    record = await env.record("p1")
    assert record.portfolio.waiting_for is None and record.portfolio.blocked_by is not None
    assert await waiting_ids(env, "price:TLT") == []


async def test_a_redelivered_price_does_not_resume_twice(env) -> None:
    await env.model("m1")
    await env.price("TLT", "50")
    await env.settings("p1", model_id="m1")
    await env.deposit("p1", "10000")
    env.new()
    from rebal_schemas import PriceUpdated

    price = PriceUpdated(symbol="SPY", price=D("100"), as_of=env.clock.now())
    await env.handlers.price_updated(price)
    assert len(only(env.new(), OptimizationReady)) == 1
    await env.handlers.price_updated(price)  # redelivery
    assert env.new() == []


async def test_an_invested_portfolio_with_an_unpriced_holding_waits_for_that_price(env) -> None:
    await env.funded("p1")  # SPY 60, TLT 70, cash 500 after its first rebalance
    first = only(env.new(), OptimizationReady)[0]
    run = completed(first, holdings_delta={"SPY": D(60), "TLT": D(70)}, cash_delta=D("-9500"))
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    env.clock.set(env.clock.now() + timedelta(days=1))  # the daily limit is today's
    await env.price("SPY", "100")  # fresh prices for what it held already
    await env.price("TLT", "50")
    await env.holdings("p1", "500", SPY="60", TLT="70", GLD="3")  # GLD: no price yet
    assert held(env.new()) == ["PRICE_MISSING"]  # cannot be valued: said, and remembered
    record = await env.record("p1")
    assert record.portfolio.waiting_for.token == "price:GLD"
    assert record.portfolio.waiting_for.trigger.reason == "holdings"
    await env.deposit("p1", "2000")  # still unpriced: the deposit is the trigger remembered now
    (record,) = only(env.new(), OptimizationCreated)
    assert record.reasons[0].code == "PRICE_MISSING" and "GLD" in record.reasons[0].detail
    assert line(record, "position.GLD").detail == "price=none"
    assert (await env.record("p1")).portfolio.waiting_for.trigger.reason == "deposit"

    await env.price("GLD", "200")
    (opt,) = only(env.new(), OptimizationCreated)
    assert opt.is_recommended and opt.run_type == "invest_cash" and opt.trigger == "deposit"
    assert line(opt, "waited_for").value == "price:GLD"
    assert opt.orders and all(o.side == "buy" for o in opt.orders)


async def test_a_deposit_before_its_model_is_invested_when_the_model_arrives(env) -> None:
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.settings("p1", model_id="late-model")
    await env.deposit("p1", "10000")
    assert held(env.new()) == ["MODEL_UNKNOWN"]
    assert (await env.record("p1")).portfolio.waiting_for.token == "model:late-model"

    await env.model("late-model")
    (fan_out,) = [e for e in env.new() if isinstance(e, RebalanceRequested)]
    assert fan_out.scope == "model" and fan_out.reason == "model_changed"
    await env.handlers.rebalance_requested(fan_out)
    for child in env.sink.events:
        await env.handlers.rebalance_requested(child)
    (opt,) = only(env.new(), OptimizationCreated)
    assert opt.is_recommended and opt.run_type == "full_rebalance"
    assert line(opt, "waited_for").value == "model:late-model"
    assert (await env.record("p1")).portfolio.waiting_for is None


async def test_a_manual_run_that_misses_a_price_is_answered_and_not_resumed(env) -> None:
    await env.price("TLT", "50")
    await env.settings("p1", own_weights=[{"type": "asset", "symbol": "SPY", "percent": "100"}])
    env.new()
    await env.request(scope="portfolio", portfolio_id="p1", reason="manual")
    assert (await env.record("p1")).portfolio.waiting_for is None
    await env.price("SPY", "100")
    assert only(env.new(), OptimizationReady) == []


async def test_a_price_committed_while_the_evaluation_ran_is_not_missed(env) -> None:
    """The price handler looked for waiting portfolios before this one was committed as
    waiting, while the evaluation had read the prices before the price was stored."""
    await env.model("m1", w=None)
    await env.price("TLT", "50")
    await env.settings("p1", model_id="m1")
    env.new()
    reference = env.handlers.evaluator.reference
    original = reference.prices

    async def prices_read_before_spy_arrives(symbols):
        seen = await original(symbols)
        reference.prices = original  # once
        await env.price("SPY", "100")  # committed now; nobody waits for it yet
        return seen

    reference.prices = prices_read_before_spy_arrives
    try:
        await env.deposit("p1", "10000")
    finally:
        reference.prices = original
    events = env.new()
    assert [o.is_recommended for o in only(events, OptimizationCreated)] == [False, True]
    assert len(only(events, OptimizationReady)) == 1
    assert (await env.record("p1")).portfolio.waiting_for is None


async def test_an_order_beyond_what_the_wire_carries_fails_the_optimization_not_the_handler(
    env,
) -> None:
    """Valid inputs at their bounds (a tiny price, a huge deposit) must not make an order the
    next consumer would refuse: the optimization fails with the reason instead."""
    await env.model("m1")
    await env.price("SPY", "0.000000001")
    await env.price("TLT", "50")
    await env.settings("p1", model_id="m1")
    await env.deposit("p1", "100000000000000")
    (opt,) = only(env.new(), OptimizationCreated)
    assert not opt.is_recommended and opt.orders == ()
    assert [r.code for r in opt.reasons] == ["ORDER_OUT_OF_BOUNDS"]
