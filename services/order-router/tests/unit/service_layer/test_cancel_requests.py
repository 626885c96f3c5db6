"""run.cancel_requested: every path (queued, in progress, all final, unknown), the race with a
fill (the broker's answer decides), and exactly once across redeliveries and crashes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal_order_router.domain import OrderStatus
from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.execution_events import execution_event_id
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.queue import QueueDrain
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.trade_updates import handle_trade_update
from rebal_runtime.consume import Transient
from rebal_runtime.store import InMemoryStore
from rebal_schemas import OrderClosed, OrderFilled, RunCancelRequested, RunExecutionStopped

from .conftest import OPENING


def cancel_request(run_id: str = "opt-1", portfolio_id: str = "pf-1", n: int = 1):
    return RunCancelRequested(
        event_id=f"cancel-{n}",
        run_id=run_id,
        portfolio_id=portfolio_id,
        reason="owner asked",
        producer="client",
    )


def stops(events: list) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [
        (e.run_id, e.outcome, e.causation_id) for e in events if isinstance(e, RunExecutionStopped)
    ]


def closes(events: list) -> list[tuple[str, str, str, Decimal]]:  # type: ignore[type-arg]
    return [
        (c.symbol, c.status.value, c.reason, c.filled_qty)
        for c in events
        if isinstance(c, OrderClosed)
    ]


async def sell_resting_at_the_broker(ctx, broker, make_ready, mode: str = "accept"):  # type: ignore[no-untyped-def]
    """Run opt-1 sent: its sell open at the broker (`mode`), its buy waiting for the sell."""
    broker.mode["AAPL"] = mode
    await on_optimization_ready(ctx, make_ready())
    await Dispatcher(ctx).dispatch_run("opt-1")
    return next(iter(broker.orders.values()))


async def deliver_updates(ctx, broker) -> None:
    for update in list(broker.updates):
        await handle_trade_update(ctx, update)


async def test_a_queued_run_is_canceled_and_no_order_is_ever_sent(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    await on_optimization_ready(window_ctx, make_ready())

    assert await on_cancel_requested(window_ctx, cancel_request()) is True

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]
    (stop,) = [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert stop.reason == "owner asked" and stop.event_id == execution_event_id("opt-1", "stopped")
    assert closes(outbox()) == []
    clock.set(OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 0
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True
    assert await reconcile_all(window_ctx) == 0
    assert broker.calls == []


async def test_an_in_progress_run_is_canceled_mid_run_keeping_its_fills(
    ctx, broker, make_ready, outbox
) -> None:
    # half the sell fills, the rest rests at the broker
    sell = await sell_resting_at_the_broker(ctx, broker, make_ready, "partial")

    assert await on_cancel_requested(ctx, cancel_request()) is True

    assert ("cancel", sell.id) in broker.calls
    assert stops(outbox()) == [("opt-1", "canceled_mid_run", "cancel-1")]
    assert closes(outbox()) == [("MSFT", "canceled", "run canceled", Decimal(0))]  # never sent
    await deliver_updates(ctx, broker)  # the broker confirms the cancel of the rest
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete
    assert {o.symbol: o.status for o in stored.run.orders} == {
        "AAPL": OrderStatus.CANCELED,
        "MSFT": OrderStatus.NOT_EXECUTED,
    }
    assert [(f.symbol, f.filled_qty) for f in outbox() if isinstance(f, OrderFilled)] == [
        ("AAPL", Decimal("2.5"))
    ]  # the partial fill stands
    assert closes(outbox())[-1] == ("AAPL", "canceled", "broker event canceled", Decimal("2.5"))
    assert broker.submits() == [sell.client_order_id]  # the buy never left


async def test_a_cancel_racing_a_fill_lets_the_broker_decide(
    ctx, broker, make_ready, outbox
) -> None:
    sell = await sell_resting_at_the_broker(ctx, broker, make_ready)
    cancel_at_broker = broker.cancel_order

    async def filled_just_before(account_id: str, order_id: str) -> None:
        broker.fill(sell.client_order_id, Decimal(5))  # the fill beats the cancel
        await cancel_at_broker(account_id, order_id)  # -> 422 already filled

    broker.cancel_order = filled_just_before
    await on_cancel_requested(ctx, cancel_request())
    await deliver_updates(ctx, broker)

    stored = await ctx.runs.get("opt-1")
    assert stored is not None
    assert stored.run.order(sell.client_order_id).status is OrderStatus.FILLED
    fills = [f for f in outbox() if isinstance(f, OrderFilled)]
    assert [(f.symbol, f.filled_qty, f.status) for f in fills] == [("AAPL", 5, "filled")]
    assert closes(outbox()) == [("MSFT", "canceled", "run canceled", Decimal(0))]
    assert stops(outbox()) == [("opt-1", "canceled_mid_run", "cancel-1")]


async def test_a_cancel_of_a_run_with_every_order_final_or_unknown_is_ignored(
    ctx, broker, make_ready, outbox
) -> None:
    await on_optimization_ready(ctx, make_ready())
    await Dispatcher(ctx).dispatch_run("opt-1")  # everything fills
    events = outbox()
    broker.calls.clear()

    assert await on_cancel_requested(ctx, cancel_request()) is False
    assert await on_cancel_requested(ctx, cancel_request("no-such-run")) is False
    assert await on_cancel_requested(ctx, cancel_request(portfolio_id="someone-else")) is False

    assert outbox() == events and broker.calls == []


async def test_a_redelivered_cancel_changes_nothing(
    ctx, window_ctx, broker, make_ready, outbox
) -> None:
    await on_optimization_ready(window_ctx, make_ready("queued-run", portfolio_id="pf-q"))
    await on_cancel_requested(window_ctx, cancel_request("queued-run", "pf-q"))
    events = outbox()

    await on_cancel_requested(window_ctx, cancel_request("queued-run", "pf-q"))  # redelivered
    await on_cancel_requested(window_ctx, cancel_request("queued-run", "pf-q", n=2))  # again

    assert outbox() == events
    assert stops(events) == [("queued-run", "canceled", "cancel-1")]


async def test_a_crash_between_the_cancel_and_the_broker_cancel_publishes_once(
    ctx, store: InMemoryStore, broker, make_ready, outbox
) -> None:
    """The cancel commits the stop (with its event in the outbox) before any broker call; the
    process dies there. The event is published once by the relay; the redelivered request and
    the reconciliation poll finish the work without a second event."""
    await sell_resting_at_the_broker(ctx, broker, make_ready)

    class Crash(BaseException):
        pass

    cancel_at_broker = broker.cancel_order

    async def crash(account_id: str, order_id: str) -> None:
        raise Crash

    broker.cancel_order = crash
    with pytest.raises(Crash):
        await on_cancel_requested(ctx, cancel_request())
    broker.cancel_order = cancel_at_broker
    assert stops(outbox()) == [("opt-1", "canceled_mid_run", "cancel-1")]  # committed
    relayed = await store.claim_pending("relay", 60)
    await store.settle(relayed)  # the relay published it (it survives the crash in the outbox)

    await on_cancel_requested(ctx, cancel_request())  # redelivered: its offset was not committed
    await deliver_updates(ctx, broker)
    await reconcile_all(ctx)

    assert stops(outbox()) == []  # nothing new to publish
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete
    assert closes(outbox()) == [("AAPL", "canceled", "broker event canceled", Decimal(0))]


async def test_a_crash_before_the_cancel_commit_is_redone_once(
    window_ctx, store: InMemoryStore, make_ready, outbox
) -> None:
    await on_optimization_ready(window_ctx, make_ready())
    commit = store.commit

    async def store_down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionError("store unreachable (injected)")

    store.commit = store_down  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await on_cancel_requested(window_ctx, cancel_request())
    store.commit = commit  # type: ignore[method-assign]
    assert stops(outbox()) == []

    await on_cancel_requested(window_ctx, cancel_request())  # redelivered
    await on_cancel_requested(window_ctx, cancel_request())

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]


async def test_a_cancel_while_another_instance_holds_the_run_is_retried(
    ctx, store: InMemoryStore, make_ready, outbox
) -> None:
    await on_optimization_ready(ctx, make_ready())
    assert await store.acquire_lease("run:opt-1", "another-router", 60)

    with pytest.raises(Transient):
        await on_cancel_requested(ctx, cancel_request())
    assert stops(outbox()) == []

    await store.release_lease("run:opt-1", "another-router")
    assert await on_cancel_requested(ctx, cancel_request()) is True


async def test_a_cancel_before_any_broker_answer_starts_and_stops_the_run_in_one_commit(
    ctx, broker, make_ready, outbox
) -> None:
    """The sell was being sent (attempted) but no answer came (broker down): the run may have
    an order at the broker, so it is canceled mid-run; its start is published with the stop."""
    await on_optimization_ready(ctx, make_ready())
    broker.down = 100
    assert await Dispatcher(ctx).dispatch_run("opt-1") is False
    assert outbox() == []
    broker.down = 0

    await on_cancel_requested(ctx, cancel_request())

    assert [e.event_type for e in outbox() if e.event_type.startswith("run.")] == [
        "run.execution_started",
        "run.execution_stopped",
    ]
    assert stops(outbox()) == [("opt-1", "canceled_mid_run", "cancel-1")]
    # the lookup proved the sell never reached the broker: both legs close, nothing is sent
    assert sorted(closes(outbox())) == [
        ("AAPL", "canceled", "run canceled", Decimal(0)),
        ("MSFT", "canceled", "run canceled", Decimal(0)),
    ]
    assert broker.orders == {}
