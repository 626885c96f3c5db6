"""Tax lots through the optimizer's handlers: a snapshot's lots are stored, a planned sale
carries the lots the portfolio's policy consumes and its estimated gain on optimization.ready,
the run's fills move the lots, and the wash-sale guard holds a buy back after a loss sale."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from rebal_optimizer.domain.lots import Lot
from rebal_schemas import HoldingsReported, OptimizationCreated, OptimizationReady, TaxLot

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import weights

LOTS = {
    "SPY": (
        TaxLot(qty=D(50), cost_per_share=D(80), acquired_on=date(2025, 1, 2)),  # long, +20
        TaxLot(qty=D(50), cost_per_share=D(120), acquired_on=date(2026, 1, 2)),  # short, -20
    )
}


async def holding_spy(
    env, fallbacks: dict[str, str] | None = None, **settings: object
) -> OptimizationReady:
    """SPY 100 shares at 100 in two lots, no TLT: a full rebalance sells SPY."""
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1", weights(SPY="50", TLT="50"), fallbacks=fallbacks or {})
    await env.settings("p1", model_id="m1", **settings)
    await env.handlers.portfolio_patched(
        HoldingsReported(
            portfolio_id="p1",
            as_of=env.clock.now(),
            holdings={"SPY": D(100)},
            cash=D(0),
            lots=LOTS,
        )
    )
    return await rebalance(env)


async def rebalance(env) -> OptimizationReady:
    """The snapshot's evaluation: SPY is far over its target, a full rebalance sells it."""
    events = env.new()
    (ready,) = [e for e in events if isinstance(e, OptimizationReady)]
    (created,) = [e for e in events if isinstance(e, OptimizationCreated)]
    assert created.orders == ready.orders  # the decision record shows them too
    return ready


async def test_a_snapshots_lots_are_stored(env) -> None:
    await holding_spy(env)
    lots = (await env.record("p1")).portfolio.lots
    assert lots == {
        "SPY": (Lot(D(50), D(80), date(2025, 1, 2)), Lot(D(50), D(120), date(2026, 1, 2)))
    }


async def test_a_fifo_sale_carries_the_oldest_lot_and_a_long_term_gain(env) -> None:
    ready = await holding_spy(env)
    (sale,) = [o for o in ready.orders if o.side == "sell"]
    assert sale.qty == D(50)
    assert [(lot.qty, lot.cost_per_share, lot.long_term) for lot in sale.lots] == [
        (D(50), D(80), True)
    ]
    assert sale.estimated_gain is not None
    assert (sale.estimated_gain.short_term, sale.estimated_gain.long_term) == (D(0), D(1000))


async def test_tax_min_sells_the_loss_lot_and_the_run_moves_the_lots(env) -> None:
    ready = await holding_spy(env, lot_policy="tax_min")
    (sale,) = [o for o in ready.orders if o.side == "sell"]
    assert [lot.cost_per_share for lot in sale.lots] == [D(120)]
    assert sale.estimated_gain is not None and sale.estimated_gain.short_term == D(-1000)
    run = completed(ready, cash_delta=D(5000), holdings_delta={"SPY": D(-50), "TLT": D(100)})
    priced = tuple(
        o.model_copy(update={"filled_avg_price": D(100) if o.symbol == "SPY" else D(50)})
        for o in run.orders
    )
    run = run.model_copy(update={"orders": priced, "last_execution_at": env.clock.now()})
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    portfolio = (await env.record("p1")).portfolio
    assert portfolio.lots["SPY"] == (Lot(D(50), D(80), date(2025, 1, 2)),)
    assert portfolio.lots["TLT"] == (Lot(D(100), D(50), env.clock.now().date()),)
    assert portfolio.loss_sales == {"SPY": env.clock.now().date()}


async def test_the_wash_sale_guard_holds_back_a_buy_after_a_loss_sale(env) -> None:
    ready = await holding_spy(env, lot_policy="tax_min", wash_sale_guard="hold")
    run = completed(ready, cash_delta=D(5000), holdings_delta={"SPY": D(-50), "TLT": D(100)})
    priced = tuple(
        o.model_copy(update={"filled_avg_price": D(100) if o.symbol == "SPY" else D(50)})
        for o in run.orders
    )
    run = run.model_copy(update={"orders": priced, "last_execution_at": env.clock.now()})
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.deposit("p1", "1000")  # invest_cash would buy SPY, sold at a loss yesterday
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert "SPY" not in {o.symbol for o in opt.orders}
    (held,) = [s for s in opt.skipped_orders if s.reason == "WASH_SALE"]
    assert held.symbol == "SPY" and held.side == "buy"
    assert any(r.code == "WASH_SALE" and "SPY" in r.detail for r in opt.reasons)


async def test_the_guard_redirects_the_buy_to_the_models_fallback(env) -> None:
    ready = await holding_spy(
        env, fallbacks={"SPY": "VOO"}, lot_policy="tax_min", wash_sale_guard="hold"
    )
    run = completed(ready, cash_delta=D(5000), holdings_delta={"SPY": D(-50), "TLT": D(100)})
    priced = tuple(
        o.model_copy(update={"filled_avg_price": D(100) if o.symbol == "SPY" else D(50)})
        for o in run.orders
    )
    run = run.model_copy(update={"orders": priced, "last_execution_at": env.clock.now()})
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    env.clock.advance(timedelta(days=1))
    for symbol, price in (("SPY", "100"), ("TLT", "50"), ("VOO", "40")):
        await env.price(symbol, price)
    await env.deposit("p1", "1000")
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert "SPY" not in {o.symbol for o in opt.orders} and "VOO" in {o.symbol for o in opt.orders}
    assert not [s for s in opt.skipped_orders if s.reason == "WASH_SALE"]
    assert any(r.code == "WASH_SALE" and "SPY -> VOO" in r.detail for r in opt.reasons)
