"""Self-healing runs: what failed or expired in a COMPLETED_ADJUSTED run is retried as a
follow-up run linked to the original (`retry_of`), without a new trigger, up to
`max_order_retries`; never after a run that completed in full; in the domain and through the
handlers (either arrival order of run.completed and run.settled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

from rebal_optimizer.domain import InvalidSettings, PortfolioSettings, Price, RunType, Side
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.retries import note_run_outcome, plan_retry, retry_due
from rebal_optimizer.domain.retry_state import RetryLeg, RetryLink
from rebal_schemas import OptimizationCreated, OptimizationReady
from rebal_schemas.events.run import RunOrder

from ..run_events import completed, settled

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
TLT = (RetryLeg("TLT", Side.BUY, qty=D(70)),)
RETRYING = PortfolioSettings(max_order_retries=2)


def test_an_adjusted_run_leaves_a_pending_retry_of_its_unfilled_legs() -> None:
    portfolio = Portfolio("p", {}, D(1000), RETRYING)
    noted = note_run_outcome(portfolio, "R1", adjusted=True, legs=TLT, run_type=RunType.INVEST_CASH)
    pending = noted.pending_retry
    assert pending is not None
    assert (pending.retry_of, pending.failed_run, pending.attempt) == ("R1", "R1", 1)
    assert retry_due(noted) == pending
    from dataclasses import replace

    assert retry_due(replace(noted, blocked_by="R1")) is None  # still blocked by its run


def test_no_retry_by_default_after_success_or_without_unfilled_legs() -> None:
    off = Portfolio("p", settings=PortfolioSettings())
    assert note_run_outcome(off, "R1", adjusted=True, legs=TLT, run_type=RunType.INVEST_CASH) == off
    on = Portfolio("p", settings=RETRYING)
    assert note_run_outcome(on, "R1", adjusted=False, legs=TLT, run_type=RunType.INVEST_CASH) == on
    assert note_run_outcome(on, "R1", adjusted=True, legs=(), run_type=RunType.INVEST_CASH) == on


def test_a_retry_that_executed_nothing_counts_but_an_original_that_did_is_no_retry() -> None:
    retrying = Portfolio("p", settings=RETRYING, retry_link=RetryLink("R2", "R1", 1))
    failed = note_run_outcome(
        retrying,
        "R2",
        adjusted=False,
        legs=TLT,
        run_type=RunType.INVEST_CASH,
        executed_nothing=True,
    )
    assert failed.pending_retry is not None and failed.pending_retry.attempt == 2
    original = Portfolio("p", settings=RETRYING)
    error = note_run_outcome(
        original,
        "R1",
        adjusted=False,
        legs=TLT,
        run_type=RunType.INVEST_CASH,
        executed_nothing=True,
    )
    assert error == original  # an ERROR run is not a partial run: Alpaca's remediation applies


def test_a_retry_that_fails_again_counts_an_attempt_and_the_limit_stops_it() -> None:
    second = Portfolio("p", settings=RETRYING, retry_link=RetryLink("R2", "R1", 1))
    noted = note_run_outcome(second, "R2", adjusted=True, legs=TLT, run_type=RunType.INVEST_CASH)
    assert noted.pending_retry is not None and noted.retry_link is None
    assert (noted.pending_retry.retry_of, noted.pending_retry.attempt) == ("R1", 2)
    third = Portfolio("p", settings=RETRYING, retry_link=RetryLink("R3", "R1", 2))
    exhausted = note_run_outcome(third, "R3", adjusted=True, legs=TLT, run_type=RunType.INVEST_CASH)
    assert exhausted.pending_retry is None and exhausted.retry_link is None
    healed = note_run_outcome(third, "R3", adjusted=False, legs=(), run_type=RunType.INVEST_CASH)
    assert healed.retry_link is None and healed.pending_retry is None  # the chain ends


def test_the_retry_run_resends_what_is_left_within_holdings_and_cash() -> None:
    prices = {s: Price(D(p), True, True, NOW) for s, p in (("SPY", "100"), ("TLT", "50"))}
    legs = (
        RetryLeg("SPY", Side.SELL, qty=D(8)),  # holds 5
        RetryLeg("TLT", Side.BUY, qty=D(70)),  # 3,500 wanted; 2,000 cash + 500 from the sale
        RetryLeg("GLD", Side.BUY, notional=D("0.40")),
    )
    prices["GLD"] = Price(D(10), True, True, NOW)
    portfolio = Portfolio("p", {"SPY": D(5)}, D(2000), RETRYING)
    noted = note_run_outcome(
        portfolio, "R1", adjusted=True, legs=legs, run_type=RunType.FULL_REBALANCE
    )
    pending = noted.pending_retry
    assert pending is not None
    result = plan_retry(
        noted, pending, prices, optimization_id="O2", now=NOW, max_price_age=timedelta(1)
    )
    opt = result.optimization
    assert opt is not None and opt.retry_of == "R1" and opt.run_type is RunType.FULL_REBALANCE
    assert [(o.leg, o.side, o.symbol, o.qty) for o in opt.orders] == [
        (1, Side.SELL, "SPY", D(5)),
        (2, Side.BUY, "TLT", D(50)),
    ]
    assert [s.symbol for s in opt.skipped_orders] == ["GLD"]  # 0.40 is below the minimum
    assert any(r.code == "RETRY" and "retry 1 of 2 of run R1" in r.detail for r in opt.reasons)
    assert result.portfolio.pending_retry is None
    assert result.portfolio.blocked_by == "O2"
    assert result.portfolio.retry_link == RetryLink("O2", "R1", 1)


def test_the_setting_is_bounded() -> None:
    import pytest

    with pytest.raises(InvalidSettings):
        PortfolioSettings(max_order_retries=6)


def _expired(leg: int, symbol: str, side: str, qty: D) -> RunOrder:
    return RunOrder(
        leg=leg,
        symbol=symbol,
        side=side,  # type: ignore[arg-type]
        qty=qty,
        filled_qty=D(0),
        status="expired",  # type: ignore[arg-type]
        transaction_status="EXPIRED",  # type: ignore[arg-type]
    )


def _adjusted(opt: Any, fill: str, fail: str) -> Any:
    """`opt`'s run.completed: `fill` filled, `fail` expired with nothing filled."""
    orders = {o.symbol: o for o in opt.orders}
    price = {"SPY": D(100), "TLT": D(50)}
    filled = orders[fill]
    return completed(
        opt,
        holdings_delta={fill: filled.qty},
        cash_delta=-(filled.qty * price[fill]),
        status="COMPLETED_ADJUSTED",
        failed_orders=(_expired(orders[fail].leg, fail, "buy", orders[fail].qty),),
    )


async def test_an_adjusted_run_heals_itself_through_the_handlers(env) -> None:
    await env.funded("p", max_order_retries=2)
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert {o.symbol for o in first.orders} == {"SPY", "TLT"}
    run = _adjusted(first, "SPY", "TLT")
    await env.handlers.run_completed(run)
    assert not [e for e in env.new() if isinstance(e, OptimizationCreated)]  # still blocked
    await env.handlers.run_settled(settled(run))
    events = env.new()
    (retry,) = [e for e in events if isinstance(e, OptimizationCreated)]
    (ready,) = [e for e in events if isinstance(e, OptimizationReady)]
    tlt = next(o for o in first.orders if o.symbol == "TLT")
    assert retry.retry_of == ready.retry_of == first.optimization_id
    assert [(o.symbol, o.side, o.qty) for o in retry.orders] == [("TLT", "buy", tlt.qty)]
    assert any(r.code == "RETRY" for r in retry.reasons)
    # the retry fails too: a second retry, linked to the same original
    again = _adjusted_only_failed(retry)
    await env.handlers.run_completed(again)
    await env.handlers.run_settled(settled(again))
    (second,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert second.retry_of == first.optimization_id
    assert any("retry 2 of 2" in r.detail for r in second.reasons)
    # and again: the limit is reached, nothing more is retried
    last = _adjusted_only_failed(second)
    await env.handlers.run_completed(last)
    await env.handlers.run_settled(settled(last))
    assert not [e for e in env.new() if isinstance(e, OptimizationCreated)]
    portfolio = (await env.record("p")).account.portfolio
    assert portfolio.pending_retry is None and portfolio.retry_link is None
    assert portfolio.blocked_by is None


def _adjusted_only_failed(opt: Any) -> Any:
    """A retry run whose one order expired with nothing filled: ERROR at the tracker."""
    (order,) = opt.orders
    return completed(
        opt,
        status="ERROR",
        failed_orders=(_expired(order.leg, order.symbol, "buy", order.qty),),
    )


async def test_run_settled_read_first_still_retries_once_run_completed_arrives(env) -> None:
    await env.funded("p", max_order_retries=1)
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    run = _adjusted(first, "SPY", "TLT")
    await env.handlers.run_settled(settled(run))  # unblocks; the unfilled legs are not known
    assert not [e for e in env.new() if isinstance(e, OptimizationCreated)]
    await env.handlers.run_completed(run)
    (retry,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert retry.retry_of == first.optimization_id
    await env.handlers.run_completed(run)  # a redelivery plans nothing new
    assert not [e for e in env.new() if isinstance(e, OptimizationCreated)]


async def test_no_retry_without_the_setting(env) -> None:
    await env.funded("p")
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    run = _adjusted(first, "SPY", "TLT")
    await env.handlers.run_completed(run)
    await env.handlers.run_settled(settled(run))
    assert not [e for e in env.new() if isinstance(e, OptimizationCreated)]
