"""Trade updates (stream), the stream cursor, and the reconciliation poll."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rebal_order_router.domain import OrderStatus
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.trade_updates import (
    CURSOR,
    TradeUpdateFollower,
    handle_trade_update,
)
from rebal_schemas import OrderClosed, OrderFilled


async def one_sell_resting(ctx, broker, make_ready, mode: str = "accept") -> str:
    broker.mode["AAPL"] = mode
    await on_optimization_ready(ctx, make_ready(orders=((3, "AAPL", "sell", "10"),)))
    await Dispatcher(ctx).dispatch_run("opt-1")
    return next(iter(broker.orders))


async def test_partial_fill_then_expiry_reports_the_partial_and_the_close(
    ctx, broker, make_ready, outbox
) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    broker.fill(coid, Decimal("4"), Decimal("199.50"))
    broker.expire(coid)

    for update in broker.updates:
        assert await handle_trade_update(ctx, update) is True

    events = outbox()
    fills = [e for e in events if isinstance(e, OrderFilled)]
    closes = [e for e in events if isinstance(e, OrderClosed)]
    assert [(f.filled_qty, f.filled_avg_price, f.status) for f in fills] == [
        (Decimal("4"), Decimal("199.50"), "partially_filled")
    ]
    assert fills[0].leg == 3
    assert len(closes) == 1
    assert closes[0].status.value == "expired"
    assert closes[0].filled_qty == Decimal("4")
    assert closes[0].filled_avg_price == Decimal("199.50")
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and stored.run.order(coid).status is OrderStatus.EXPIRED
    assert await ctx.runs.open_runs() == []


async def test_duplicate_and_stale_updates_are_no_ops(ctx, broker, make_ready, outbox) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    broker.fill(coid, Decimal("10"))
    for update in broker.updates:
        await handle_trade_update(ctx, update)
    published_once = outbox()
    stored_once = await ctx.runs.get("opt-1")

    for update in reversed(broker.updates):  # replayed, and out of order
        await handle_trade_update(ctx, update)

    assert outbox() == published_once
    assert await ctx.runs.get("opt-1") == stored_once
    assert [e.status for e in published_once if isinstance(e, OrderFilled)] == ["filled"]


async def test_updates_for_foreign_or_unknown_orders_are_skipped(ctx, broker, make_ready) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    update = broker.updates[0]
    foreign = replace(update, order=replace(update.order, client_order_id="manual-trade-1"))
    unknown = replace(update, order=replace(update.order, client_order_id="rebal-opt-9-001.x.Y"))

    assert await handle_trade_update(ctx, foreign) is False
    assert await handle_trade_update(ctx, unknown) is False
    assert await handle_trade_update(ctx, update) is True
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and stored.run.order(coid).status is OrderStatus.SUBMITTED


async def test_follower_resumes_from_the_stored_cursor(ctx, broker, make_ready, outbox) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    follower = TradeUpdateFollower(ctx)

    assert await follower.follow_once() == 1  # the "new" event
    assert await ctx.runs.load_cursor(CURSOR) == broker.updates[-1].event_id

    broker.fill(coid, Decimal("10"))
    assert await follower.follow_once() == 1  # only the fill: resumed after the cursor
    assert broker.calls[-1] == ("stream", "1")
    assert [e.status for e in outbox() if isinstance(e, OrderFilled)] == ["filled"]

    restarted = TradeUpdateFollower(ctx)  # a new process reads the same store
    assert await restarted.follow_once() == 0


async def test_reconciliation_reports_what_the_stream_missed(
    ctx, broker, make_ready, outbox
) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    broker.fill(coid, Decimal("6"))  # no stream: only the poll can learn this

    assert await reconcile_all(ctx) == 1
    assert [(e.filled_qty, e.status) for e in outbox() if isinstance(e, OrderFilled)] == [
        (Decimal("6"), "partially_filled")
    ]

    broker.expire(coid)
    await reconcile_all(ctx)
    closes = [e for e in outbox() if isinstance(e, OrderClosed)]
    assert [(c.status.value, c.filled_qty) for c in closes] == [("expired", Decimal("6"))]
    assert await ctx.runs.open_runs() == []
    assert await reconcile_all(ctx) == 0  # nothing open: no lookups any more


async def test_reconciliation_survives_a_broker_outage(ctx, broker, make_ready, outbox) -> None:
    coid = await one_sell_resting(ctx, broker, make_ready)
    broker.fill(coid, Decimal("10"))
    broker.down = 1

    assert await reconcile_all(ctx) == 0
    assert not [e for e in outbox() if isinstance(e, OrderFilled | OrderClosed)]
    assert await reconcile_all(ctx) == 1
    assert [e.status for e in outbox() if isinstance(e, OrderFilled)] == ["filled"]
