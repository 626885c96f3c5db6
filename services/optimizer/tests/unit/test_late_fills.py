"""transaction.settled with `late`: a fill reported after its run had ended, not in its
run.completed, applied to a PLATFORM book once per run and leg (clamped at zero), leaving the
block and the cooldown alone; CLIENT books and fills that are not late are ignored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

from rebal_schemas import OptimizationCreated, TransactionSettled

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import Env


async def after_run(env: Env, integration: str = "PLATFORM", *, settle: bool = True) -> str:
    """A funded portfolio whose first rebalance bought 60 SPY and 70 TLT (500 cash left)."""
    await env.funded("p1", broker_integration=integration)
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    run = completed(
        first,
        integration=integration,
        status="TIMEOUT",
        holdings_delta={"SPY": D(60), "TLT": D(70)},
        cash_delta=D(-9500),
        last_execution_at=env.clock.now(),
    )
    await env.handlers.run_completed(run)
    if settle:
        await env.handlers.run_settled(settled(run))
    env.new()
    return run.run_id


def fill(run_id: str, leg: int, symbol: str, side: str, qty: str, price: str, **kw: Any) -> Any:
    return TransactionSettled(
        event_id=f"late/{run_id}/{leg}",
        run_id=run_id,
        portfolio_id="p1",
        leg=leg,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=D(qty),
        avg_price=D(price),
        trade_date=date(2026, 3, 4),
        settlement_date=date(2026, 3, 5),
        late=kw.pop("late", True),
        **kw,
    )


async def test_a_late_buy_and_sale_change_the_platform_book_once(env: Env) -> None:
    run_id = await after_run(env)
    buy = fill(run_id, 3, "SPY", "buy", "2", "100.005")  # 200.01 half-up
    assert await env.handlers.transaction_settled(buy) is not None
    portfolio = (await env.record("p1")).portfolio
    assert portfolio.holdings["SPY"] == D(62) and portfolio.cash == D("299.99")
    assert await env.handlers.transaction_settled(buy) is None  # redelivery: the inbox
    again = buy.model_copy(update={"event_id": "re-reported"})
    assert await env.handlers.transaction_settled(again) is None  # the (run, leg) is known
    sale = fill(run_id, 4, "TLT", "sell", "10", "50.125")  # 501.25
    await env.handlers.transaction_settled(sale)
    record = await env.record("p1")
    assert record.portfolio.holdings["TLT"] == D(60) and record.portfolio.cash == D("801.24")
    assert record.recent_late_fills == (f"{run_id}/3", f"{run_id}/4")
    assert env.new() == []  # no evaluation, nothing published


async def test_a_late_fill_never_takes_holdings_or_cash_below_zero(env: Env) -> None:
    run_id = await after_run(env)
    await env.handlers.transaction_settled(fill(run_id, 5, "TLT", "sell", "80", "50"))
    portfolio = (await env.record("p1")).portfolio
    assert "TLT" not in portfolio.holdings and portfolio.cash == D(4500)  # the fill happened
    await env.handlers.transaction_settled(fill(run_id, 6, "SPY", "buy", "100", "100"))
    portfolio = (await env.record("p1")).portfolio
    assert portfolio.holdings["SPY"] == D(160) and portfolio.cash == D(0)


async def test_a_late_fill_leaves_block_and_cooldown_alone(env: Env) -> None:
    run_id = await after_run(env, settle=False)  # completed, not settled: still blocked
    before = (await env.record("p1")).portfolio
    await env.handlers.transaction_settled(fill(run_id, 3, "SPY", "buy", "1", "100"))
    after = (await env.record("p1")).portfolio
    assert after.blocked_by == before.blocked_by == run_id
    assert after.last_rebalanced_at == before.last_rebalanced_at
    assert after.holdings["SPY"] == D(61) and after.cash == D(400)


async def test_client_books_and_fills_not_late_are_ignored(env: Env) -> None:
    run_id = await after_run(env, "CLIENT")
    before = await env.record("p1")
    assert await env.handlers.transaction_settled(fill(run_id, 3, "SPY", "buy", "1", "100")) is None
    on_time = fill(run_id, 1, "SPY", "buy", "60", "100", late=False)
    assert await env.handlers.transaction_settled(on_time) is None
    assert await env.record("p1") == before
