"""The dispatcher: sells first, results recorded with their events, exactly once across broker
outages, lost replies and crashes."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from rebal_order_router.adapters.run_documents import StoredRun
from rebal_order_router.domain import OrderStatus
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.trade_updates import handle_trade_update
from rebal_schemas import OrderClosed, OrderFilled


def coids(stored: StoredRun) -> dict[str, str]:
    return {o.symbol: o.client_order_id for o in stored.run.orders}


async def stored_run(ctx, run_id: str = "opt-1") -> StoredRun:
    stored = await ctx.runs.get(run_id)
    assert stored is not None
    return stored


async def test_immediate_fills_are_recorded_and_published_sells_before_buys(
    ctx, broker, make_ready, outbox
) -> None:
    await on_optimization_ready(ctx, make_ready())
    ids = coids(await stored_run(ctx))

    assert await Dispatcher(ctx).dispatch_run("opt-1") is True

    assert broker.submits() == [ids["AAPL"], ids["MSFT"]]  # the sell went first
    run = (await stored_run(ctx)).run
    assert all(o.status is OrderStatus.FILLED for o in run.orders)
    fills = [e for e in outbox() if isinstance(e, OrderFilled)]
    assert [(f.symbol, f.side.value, f.leg, f.status) for f in fills] == [
        ("AAPL", "sell", 1, "filled"),
        ("MSFT", "buy", 2, "filled"),
    ]
    sell = fills[0]
    assert sell.filled_qty == Decimal("5") and sell.filled_avg_price == Decimal("200")
    assert sell.trade_date == date(2024, 7, 1)
    assert (sell.run_id, sell.portfolio_id, sell.correlation_id) == ("opt-1", "pf-1", "opt-1")
    assert sell.client_order_id == ids["AAPL"] and sell.broker_order_id == "B1"
    assert sell.producer == "order-router"
    assert await ctx.runs.runs_needing_dispatch() == []
    assert await ctx.runs.open_runs() == []


async def test_buys_wait_until_every_sell_is_final(ctx, broker, make_ready, outbox) -> None:
    broker.mode["AAPL"] = "accept"  # the sell rests at the broker
    woken: list[bool] = []
    ctx.wake_dispatcher = lambda: woken.append(True)
    await on_optimization_ready(ctx, make_ready())
    ids = coids(await stored_run(ctx))
    dispatcher = Dispatcher(ctx)

    assert await dispatcher.dispatch_run("opt-1") is True
    assert broker.submits() == [ids["AAPL"]]
    assert (await stored_run(ctx)).run.order(ids["AAPL"]).status is OrderStatus.SUBMITTED
    assert await ctx.runs.runs_needing_dispatch() == []
    woken.clear()

    broker.fill(ids["AAPL"], Decimal("5"))  # the sell fills later, reported on the stream
    for update in broker.updates:
        await handle_trade_update(ctx, update)
    assert woken  # the completed sell woke the dispatcher for the buys
    assert await ctx.runs.runs_needing_dispatch() == ["opt-1"]

    assert await dispatcher.dispatch_run("opt-1") is True
    assert broker.submits() == [ids["AAPL"], ids["MSFT"]]
    assert {e.symbol for e in outbox() if isinstance(e, OrderFilled)} == {"AAPL", "MSFT"}


async def test_broker_rejection_closes_the_order_with_the_reason(
    ctx, broker, make_ready, outbox
) -> None:
    broker.mode["MSFT"] = "reject"
    await on_optimization_ready(ctx, make_ready())

    assert await Dispatcher(ctx).dispatch_run("opt-1") is True

    closed = [e for e in outbox() if isinstance(e, OrderClosed)]
    assert len(closed) == 1
    assert closed[0].symbol == "MSFT" and closed[0].leg == 2
    assert closed[0].status.value == "rejected"
    assert "insufficient buying power" in closed[0].reason and "403" in closed[0].reason
    assert closed[0].filled_qty == 0 and closed[0].broker_order_id is None
    assert (await stored_run(ctx)).run.is_complete


async def test_broker_down_leaves_orders_pending_then_looks_up_before_resending(
    ctx, broker, make_ready, outbox
) -> None:
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    coid = coids(await stored_run(ctx))["AAPL"]
    broker.down = 100
    dispatcher = Dispatcher(ctx)

    assert await dispatcher.dispatch_run("opt-1") is False
    stored = await stored_run(ctx)
    assert stored.run.order(coid).status is OrderStatus.PENDING_SUBMIT
    assert coid in stored.meta.attempted
    assert await ctx.runs.runs_needing_dispatch() == ["opt-1"]
    assert broker.orders == {} and outbox() == []  # nothing known to have left: not started

    broker.down = 0
    broker.calls.clear()
    assert await dispatcher.dispatch_run("opt-1") is True
    assert broker.calls == [("lookup", coid), ("submit", coid)]  # lookup first, then one send
    assert len(broker.orders) == 1
    assert [e.symbol for e in outbox() if isinstance(e, OrderFilled)] == ["AAPL"]


async def test_lost_reply_is_adopted_not_resent(ctx, broker, make_ready) -> None:
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    coid = coids(await stored_run(ctx))["AAPL"]
    broker.lose_replies = 1  # the broker stores the order, the answer never arrives

    assert await Dispatcher(ctx).dispatch_run("opt-1") is True

    assert broker.submits() == [coid]  # looked up after the timeout, adopted, never re-sent
    assert ("lookup", coid) in broker.calls
    assert (await stored_run(ctx)).run.order(coid).status is OrderStatus.FILLED


async def test_restart_after_a_crash_mid_send_looks_up_and_never_sends_twice(
    ctx, broker, make_ready, outbox
) -> None:
    """The first process marked the sell attempted and the broker got it, then the process
    died before recording the answer: a new dispatcher finds it by client_order_id."""
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    coid = coids(await stored_run(ctx))["AAPL"]

    class Crash(BaseException):
        pass

    original_submit = broker.submit_order

    async def submit_then_crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        await original_submit(*args, **kwargs)
        raise Crash

    broker.submit_order = submit_then_crash
    with pytest.raises(Crash):
        await Dispatcher(ctx).dispatch_run("opt-1")
    broker.submit_order = original_submit
    assert (await stored_run(ctx)).run.order(coid).status is OrderStatus.PENDING_SUBMIT
    assert outbox() == []  # the run's outbox is empty while its orders are in flight

    assert await Dispatcher(ctx).dispatch_run("opt-1") is True  # "the restarted process"

    assert broker.submits() == [coid]
    assert (await stored_run(ctx)).run.order(coid).status is OrderStatus.FILLED
    assert [e.filled_qty for e in outbox() if isinstance(e, OrderFilled)] == [Decimal("5")]
    assert outbox()[0].event_type == "run.execution_started"  # with the answer


async def test_dispatcher_loop_sends_a_new_run_when_woken(ctx, broker, make_ready) -> None:
    dispatcher = Dispatcher(ctx, poll_seconds=30.0)  # only a wake-up can make it send quickly
    ctx.wake_dispatcher = dispatcher.wake
    await dispatcher.start()
    try:
        await asyncio.sleep(0.05)  # the first round found nothing and is waiting
        await on_optimization_ready(ctx, make_ready())
        for _ in range(200):
            if len(broker.submits()) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
    assert len(broker.submits()) == 2
    assert (await stored_run(ctx)).run.is_complete


async def test_dispatcher_retries_a_failed_run_after_its_backoff(ctx, broker, make_ready) -> None:
    broker.down = 4  # the first attempt's calls all fail
    dispatcher = Dispatcher(ctx, poll_seconds=0.01, backoff_max_seconds=0.02)
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    await dispatcher.start()
    try:
        for _ in range(300):
            stored = await ctx.runs.get("opt-1")
            if stored is not None and stored.run.is_complete:
                break
            await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
    assert (await stored_run(ctx)).run.is_complete
    assert len(broker.orders) == 1


async def test_an_answer_that_does_not_move_the_order_on_backs_off_instead_of_spinning(
    ctx, broker, make_ready
) -> None:
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    original_submit = broker.submit_order

    async def odd_snapshot(*args, **kwargs):  # type: ignore[no-untyped-def]
        placed = await original_submit(*args, **kwargs)
        # "partially_filled" without any quantity: says nothing new about the order
        return replace(placed, status="partially_filled", filled_qty=Decimal(0))

    broker.mode["AAPL"] = "accept"
    broker.submit_order = odd_snapshot

    assert await Dispatcher(ctx).dispatch_run("opt-1") is False  # returns, to retry later

    assert len(broker.submits()) == 1
    assert await ctx.runs.runs_needing_dispatch() == ["opt-1"]
