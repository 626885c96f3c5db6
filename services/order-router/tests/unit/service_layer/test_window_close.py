"""A started run at the close of the execution window: its legs never sent expire
(order.closed expired, "execution window closed", nothing filled), as day orders at the broker
do; legs that may have been sent are looked up, never guessed; nothing of the run is sent
afterwards, not even in the next session. Once: a second poll, a redelivered report or a
restart closes nothing twice. ALWAYS_OPEN never closes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rebal_order_router.domain import WINDOW_CLOSED, ExecutionWindow, OrderStatus
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.rereport import rereport_run
from rebal_schemas import OrderClosed

from .conftest import NEW_YORK
from .test_cancel_requests import deliver_updates
from .test_window_at_dispatch import (
    BEFORE_CLOSE,
    CLOSE,
    NEXT_OPENING,
    ThroughTuesday,
    coid_of,
    queued,
    run_pending_round,
)

SELLS_SENT = BEFORE_CLOSE - timedelta(minutes=1)  # 15:28


def closed(events: list, symbol: str) -> list[OrderClosed]:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, OrderClosed) and e.symbol == symbol]


async def sell_resting(ctx, broker, clock, make_ready) -> tuple[Dispatcher, str]:  # type: ignore[no-untyped-def]
    """opt-1 at 15:28: its sell (AAPL) rests at the broker, its buy (MSFT) waits for it."""
    broker.mode["AAPL"] = "accept"
    clock.set(SELLS_SENT)
    await on_optimization_ready(ctx, make_ready())
    dispatcher = Dispatcher(ctx)
    assert await dispatcher.dispatch_run("opt-1") is True
    sell = await coid_of(ctx, "AAPL")
    assert broker.submits() == [sell]
    return dispatcher, sell


async def sell_fills(ctx, broker, clock, sell: str, at: datetime) -> None:  # type: ignore[no-untyped-def]
    clock.set(at)
    broker.fill(sell, Decimal(5))
    await deliver_updates(ctx, broker)


def assert_expired_at(close: OrderClosed, at: datetime) -> None:
    assert close.status.value == "expired"
    assert close.reason == WINDOW_CLOSED == "execution window closed"
    assert close.filled_qty == 0 and close.filled_avg_price is None
    assert close.broker_order_id is None  # it never reached the broker
    assert close.closed_at == at.astimezone(UTC)
    assert close.run_canceled is False  # the window ended it, not a cancel


async def test_buys_unsent_at_the_close_expire_after_sells_filled_at_1529(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    dispatcher, sell = await sell_resting(window_ctx, broker, clock, make_ready)
    await sell_fills(window_ctx, broker, clock, sell, BEFORE_CLOSE)  # the buy is sendable now

    clock.set(CLOSE)  # ...but the dispatcher comes to it at 15:30
    assert await dispatcher.dispatch_run("opt-1") is True

    assert broker.submits() == [sell]
    (close,) = closed(outbox(), "MSFT")
    assert_expired_at(close, CLOSE)
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete
    assert {o.symbol: o.status for o in stored.run.orders} == {
        "AAPL": OrderStatus.FILLED,
        "MSFT": OrderStatus.EXPIRED,
    }
    assert await window_ctx.runs.runs_needing_dispatch() == []
    assert await window_ctx.runs.open_runs() == []

    clock.set(NEXT_OPENING)  # nothing is kept for the next session
    await run_pending_round(dispatcher)
    assert broker.submits() == [sell]
    assert queued(outbox()) == []


async def test_a_second_poll_or_a_redelivered_report_closes_once(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    dispatcher, sell = await sell_resting(window_ctx, broker, clock, make_ready)
    later = CLOSE + timedelta(minutes=1)
    await sell_fills(window_ctx, broker, clock, sell, later)  # final only after the close
    assert await dispatcher.dispatch_run("opt-1") is True
    (close,) = closed(outbox(), "MSFT")
    assert_expired_at(close, later)
    events = outbox()

    clock.set(later + timedelta(minutes=5))
    await deliver_updates(window_ctx, broker)  # the fill again
    assert await dispatcher.dispatch_run("opt-1") is True
    await run_pending_round(dispatcher)
    await run_pending_round(Dispatcher(window_ctx))  # another instance
    assert outbox() == events
    assert broker.submits() == [sell]

    await rereport_run(window_ctx, "opt-1")  # said again: the same event, the same id
    again = closed(outbox()[len(events) :], "MSFT")
    assert [(c.event_id, c.status, c.reason) for c in again] == [
        (close.event_id, close.status, close.reason)
    ]


async def test_a_restart_after_the_close_closes_them_too(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    _, sell = await sell_resting(window_ctx, broker, clock, make_ready)
    await sell_fills(window_ctx, broker, clock, sell, BEFORE_CLOSE)  # then the router went down

    restarted_at = CLOSE + timedelta(minutes=40)
    clock.set(restarted_at)
    await run_pending_round(Dispatcher(window_ctx))  # the restarted router's first poll

    assert broker.submits() == [sell]
    (close,) = closed(outbox(), "MSFT")
    assert_expired_at(close, restarted_at)


async def test_a_router_down_until_the_next_session_sends_nothing_of_the_old_run(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    """The window is open again when the router comes back, but it closed since the run
    started: the buy would go out at a price nobody re-checked, so it expires instead."""
    _, sell = await sell_resting(window_ctx, broker, clock, make_ready)
    clock.set(BEFORE_CLOSE)
    broker.fill(sell, Decimal(5))  # the router is down: the fill is read the next morning

    back = NEXT_OPENING + timedelta(minutes=5)
    clock.set(back)
    await deliver_updates(window_ctx, broker)
    await run_pending_round(Dispatcher(window_ctx))

    assert broker.submits() == [sell]
    (close,) = closed(outbox(), "MSFT")
    assert_expired_at(close, back)


async def test_a_sell_unanswered_at_the_close_is_looked_up_and_expires_if_never_received(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    clock.set(BEFORE_CLOSE)
    await on_optimization_ready(window_ctx, make_ready())
    broker.down = 100
    dispatcher = Dispatcher(window_ctx)
    assert await dispatcher.dispatch_run("opt-1") is False  # the sell may be at the broker
    broker.down = 0
    calls = len(broker.calls)
    sell = await coid_of(window_ctx, "AAPL")

    after = CLOSE + timedelta(minutes=2)  # the backoff is over after the close
    clock.set(after)
    assert await dispatcher.dispatch_run("opt-1") is True

    assert broker.calls[calls:] == [("lookup", sell)]  # looked up, never sent again
    assert_expired_at(closed(outbox(), "AAPL")[0], after)
    assert_expired_at(closed(outbox(), "MSFT")[0], after)  # never sent: no lookup
    assert len(closed(outbox(), "AAPL") + closed(outbox(), "MSFT")) == 2
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete


async def test_a_sell_the_broker_got_before_the_close_is_reported_as_the_broker_has_it(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    clock.set(BEFORE_CLOSE)
    await on_optimization_ready(window_ctx, make_ready())
    broker.down = 100
    dispatcher = Dispatcher(window_ctx)
    assert await dispatcher.dispatch_run("opt-1") is False
    broker.down = 0
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None
    aapl = stored.run.orders[0]
    await broker.submit_order("acct-1", aapl.client_order_id, "AAPL", aapl.side, qty=aapl.qty)
    broker.calls.clear()  # ...the request had reached the broker after all (and filled)

    clock.set(CLOSE + timedelta(minutes=2))
    assert await dispatcher.dispatch_run("opt-1") is True

    assert broker.calls == [("lookup", aapl.client_order_id)]
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None
    assert {o.symbol: o.status for o in stored.run.orders} == {
        "AAPL": OrderStatus.FILLED,
        "MSFT": OrderStatus.EXPIRED,
    }
    assert closed(outbox(), "AAPL") == []


async def test_a_lookup_failing_at_the_close_is_retried_and_each_leg_closes_once(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    clock.set(BEFORE_CLOSE)
    await on_optimization_ready(window_ctx, make_ready())
    broker.down = 100
    dispatcher = Dispatcher(window_ctx)
    assert await dispatcher.dispatch_run("opt-1") is False
    clock.set(CLOSE + timedelta(minutes=2))
    broker.down = 1  # the lookup at the close fails

    assert await dispatcher.dispatch_run("opt-1") is False  # retried after a backoff
    assert [c.symbol for c in closed(outbox(), "MSFT")] == ["MSFT"]  # never sent: closed
    assert closed(outbox(), "AAPL") == []  # unknown: not guessed
    assert await window_ctx.runs.runs_needing_dispatch() == ["opt-1"]

    assert await dispatcher.dispatch_run("opt-1") is True
    assert [c.symbol for c in outbox() if isinstance(c, OrderClosed)] == ["MSFT", "AAPL"]
    assert broker.submits() == [await coid_of(window_ctx, "AAPL")]  # the one lost attempt


async def test_a_started_run_whose_window_the_calendar_cannot_tell_closes_nothing(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    window_ctx.window = ExecutionWindow(ThroughTuesday())
    dispatcher, sell = await sell_resting(window_ctx, broker, clock, make_ready)
    await sell_fills(window_ctx, broker, clock, sell, datetime(2026, 3, 11, 10, tzinfo=NEW_YORK))

    assert await dispatcher.dispatch_run("opt-1") is False  # retried: the data may come back
    assert broker.submits() == [sell]
    assert closed(outbox(), "MSFT") == []


async def test_always_open_sends_the_buys_whenever_the_sells_end(
    ctx, broker, clock, make_ready, outbox
) -> None:
    broker.mode["AAPL"] = "accept"
    clock.set(datetime(2026, 3, 13, 15, 29, tzinfo=NEW_YORK))
    await on_optimization_ready(ctx, make_ready())
    dispatcher = Dispatcher(ctx)
    await dispatcher.dispatch_run("opt-1")
    sell = await coid_of(ctx, "AAPL")
    await sell_fills(ctx, broker, clock, sell, datetime(2026, 3, 14, 23, tzinfo=NEW_YORK))

    assert await dispatcher.dispatch_run("opt-1") is True
    assert broker.submits() == [sell, await coid_of(ctx, "MSFT")]
    assert [c for c in outbox() if isinstance(c, OrderClosed)] == []
