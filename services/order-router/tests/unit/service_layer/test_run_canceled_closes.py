"""order.closed says `run_canceled` when the run's cancel brought the close: a leg never sent
(closed "run canceled"), an open order the broker then reports canceled (on the stream or to
the reconciliation). Every other close says False: rejected, expired, canceled by the broker
without a run cancel. The settlement-tracker then waits for run.execution_stopped (another
topic) instead of completing the run from its closes."""

from __future__ import annotations

from rebal_order_router.domain import BrokerUnavailable
from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.rereport import rereport_run
from rebal_schemas import OrderClosed

from .test_cancel_requests import cancel_request, deliver_updates, sell_resting_at_the_broker


def flags(events: list) -> list[tuple[str, str, str, bool]]:  # type: ignore[type-arg]
    return [
        (c.symbol, c.status.value, c.reason, c.run_canceled)
        for c in events
        if isinstance(c, OrderClosed)
    ]


async def test_the_closes_of_a_run_canceled_mid_run_say_so(ctx, broker, make_ready, outbox) -> None:
    await sell_resting_at_the_broker(ctx, broker, make_ready, "partial")

    await on_cancel_requested(ctx, cancel_request())
    await deliver_updates(ctx, broker)  # the broker's canceled update of the sell's rest

    assert flags(outbox()) == [
        ("MSFT", "canceled", "run canceled", True),  # never sent
        ("AAPL", "canceled", "broker event canceled", True),
    ]
    events = len(outbox())
    await rereport_run(ctx, "opt-1")  # derived again from the stored orders: the same
    assert sorted(flags(outbox()[events:])) == sorted(flags(outbox()[:events]))


async def test_the_reconciliations_canceled_says_so_too(ctx, broker, make_ready, outbox) -> None:
    await sell_resting_at_the_broker(ctx, broker, make_ready)
    await on_cancel_requested(ctx, cancel_request())  # the stream's canceled update is missed

    await reconcile_all(ctx)

    assert flags(outbox())[-1] == ("AAPL", "canceled", "", True)


async def test_legs_resolved_by_lookup_at_the_cancel_say_so(
    ctx, broker, make_ready, outbox
) -> None:
    await on_optimization_ready(
        ctx, make_ready(orders=((1, "AAPL", "sell", "5"), (2, "MSFT", "sell", "1")))
    )
    broker.mode["AAPL"] = "accept"
    broker.down = 100  # both sends fail: both may be at the broker
    await Dispatcher(ctx).dispatch_run("opt-1")
    broker.down = 0
    stored = await ctx.runs.get("opt-1")
    assert stored is not None
    aapl = stored.run.orders[0]
    await broker.submit_order("acct-1", aapl.client_order_id, "AAPL", aapl.side, qty=aapl.qty)

    await on_cancel_requested(ctx, cancel_request())  # AAPL found and canceled, MSFT never got
    await deliver_updates(ctx, broker)

    assert sorted(flags(outbox())) == [
        ("AAPL", "canceled", "broker event canceled", True),
        ("MSFT", "canceled", "run canceled", True),
    ]


async def test_a_close_a_cancel_did_not_bring_is_not_the_runs(
    ctx, broker, make_ready, outbox
) -> None:
    sell = await sell_resting_at_the_broker(ctx, broker, make_ready)
    original_cancel = broker.cancel_order

    async def unreachable(account_id: str, order_id: str) -> None:
        raise BrokerUnavailable("DELETE order: connect error (injected)")

    broker.cancel_order = unreachable
    await on_cancel_requested(ctx, cancel_request())
    broker.cancel_order = original_cancel
    broker.expire(sell.client_order_id)  # the day order expired before the cancel got through
    await deliver_updates(ctx, broker)

    assert flags(outbox()) == [
        ("MSFT", "canceled", "run canceled", True),
        ("AAPL", "expired", "broker event expired", False),
    ]


async def test_closes_without_a_run_cancel_say_false(ctx, broker, make_ready, outbox) -> None:
    broker.mode["AAPL"] = "accept"
    broker.mode["MSFT"] = "reject"
    await on_optimization_ready(
        ctx,
        make_ready(
            run_id="opt-1",
            orders=((1, "AAPL", "sell", "5"), (2, "VTI", "sell", "1"), (3, "MSFT", "buy", "2")),
        ),
    )
    await Dispatcher(ctx).dispatch_run("opt-1")
    aapl = next(o for o in broker.orders.values() if o.symbol == "AAPL")
    await broker.cancel_order("acct-1", aapl.id)  # canceled at the broker, not by the run
    await deliver_updates(ctx, broker)
    await Dispatcher(ctx).dispatch_run("opt-1")  # the buy is refused

    assert sorted(flags(outbox())) == [
        ("AAPL", "canceled", "broker event canceled", False),
        ("MSFT", "rejected", "insufficient buying power (HTTP 403)", False),
    ]
