"""cancel_run: nothing more is sent, open orders are canceled, maybe-sent intents are looked up;
a run none of whose orders left stops as canceled without a single broker call."""

from __future__ import annotations

from decimal import Decimal

from rebal_order_router.adapters.run_documents import StoredRun
from rebal_order_router.domain import BrokerUnavailable, OrderStatus
from rebal_order_router.service_layer.cancel import cancel_run
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.trade_updates import handle_trade_update
from rebal_schemas import OrderClosed, RunExecutionStopped


def by_symbol(stored: StoredRun) -> dict[str, OrderStatus]:
    return {o.symbol: o.status for o in stored.run.orders}


async def test_cancel_mid_run_cancels_open_sells_and_abandons_unsent_buys(
    ctx, broker, make_ready, outbox
) -> None:
    broker.mode["AAPL"] = "accept"
    await on_optimization_ready(ctx, make_ready())
    await Dispatcher(ctx).dispatch_run("opt-1")
    sell = next(iter(broker.orders.values()))

    stored = await cancel_run(ctx, "opt-1", reason="owner canceled")

    assert stored is not None and stored.run.is_canceled
    assert ("cancel", sell.id) in broker.calls
    assert by_symbol(stored) == {"AAPL": OrderStatus.SUBMITTED, "MSFT": OrderStatus.NOT_EXECUTED}
    closed = [e for e in outbox() if isinstance(e, OrderClosed)]
    assert [(c.symbol, c.status.value, c.reason) for c in closed] == [
        ("MSFT", "canceled", "run canceled")
    ]
    (stop,) = [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert (stop.outcome, stop.reason) == ("canceled_mid_run", "owner canceled")

    # the broker confirms the cancel on the stream: the sell closes as canceled
    for update in broker.updates:
        await handle_trade_update(ctx, update)
    final = await ctx.runs.get("opt-1")
    assert final is not None and final.run.is_complete
    assert [c.status.value for c in outbox() if isinstance(c, OrderClosed)] == [
        "canceled",
        "canceled",
    ]
    # nothing is ever sent for a canceled run
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert len(broker.submits()) == 1


async def test_cancel_resolves_maybe_sent_intents_by_lookup(ctx, broker, make_ready) -> None:
    await on_optimization_ready(
        ctx, make_ready(orders=((1, "AAPL", "sell", "5"), (2, "MSFT", "sell", "1")))
    )
    broker.mode["AAPL"] = "accept"
    broker.down = 100  # both sends fail: both intents are attempted, outcome unknown
    await Dispatcher(ctx).dispatch_run("opt-1")
    broker.down = 0
    # ...but the AAPL request had reached the broker after all
    stored = await ctx.runs.get("opt-1")
    assert stored is not None
    aapl = next(o for o in stored.run.orders if o.symbol == "AAPL")
    await broker.submit_order("acct-1", aapl.client_order_id, "AAPL", aapl.side, qty=aapl.qty)
    broker.calls.clear()

    canceled = await cancel_run(ctx, "opt-1")

    assert canceled is not None
    assert by_symbol(canceled) == {"AAPL": OrderStatus.SUBMITTED, "MSFT": OrderStatus.NOT_EXECUTED}
    assert [m for m, _ in broker.calls] == ["lookup", "lookup", "cancel"]
    assert broker.submits() == []


async def test_cancel_before_any_order_left_stops_the_run_once_without_the_broker(
    ctx, broker, make_ready, outbox
) -> None:
    assert await cancel_run(ctx, "no-such-run") is None
    await on_optimization_ready(ctx, make_ready())  # inside the window, not dispatched yet
    first = await cancel_run(ctx, "opt-1")
    events = outbox()

    second = await cancel_run(ctx, "opt-1")

    assert first is not None and second is not None
    assert second.run == first.run
    assert outbox() == events
    assert [(e.event_type, getattr(e, "outcome", None)) for e in events] == [
        ("run.execution_stopped", "canceled")
    ]  # no order.closed: no order ever existed
    assert first.run.is_complete and await ctx.runs.open_runs() == []
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert broker.calls == []  # nothing was ever sent, so nothing needed a lookup


async def test_cancel_of_a_complete_run_changes_nothing(ctx, broker, make_ready, outbox) -> None:
    await on_optimization_ready(ctx, make_ready())
    await Dispatcher(ctx).dispatch_run("opt-1")
    events = outbox()

    stored = await cancel_run(ctx, "opt-1")

    assert stored is not None and not stored.run.is_canceled
    assert outbox() == events


async def test_reconciliation_retries_a_cancel_the_broker_missed(ctx, broker, make_ready) -> None:
    broker.mode["AAPL"] = "accept"
    await on_optimization_ready(ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    await Dispatcher(ctx).dispatch_run("opt-1")
    original_cancel = broker.cancel_order
    refused: list[str] = []

    async def cancel_unreachable(account_id: str, order_id: str) -> None:
        refused.append(order_id)
        raise BrokerUnavailable("DELETE order: connect error (injected)")

    broker.cancel_order = cancel_unreachable
    await cancel_run(ctx, "opt-1")
    assert refused and (await ctx.runs.open_runs()) == ["opt-1"]

    broker.cancel_order = original_cancel
    await reconcile_all(ctx)  # sends the cancel again
    await reconcile_all(ctx)  # and learns the outcome
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and by_symbol(stored) == {"AAPL": OrderStatus.CANCELED}
    assert stored.run.order(stored.run.orders[0].client_order_id).filled_qty == Decimal(0)
