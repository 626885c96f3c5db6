"""The execution window in the service layer: runs ready outside it are QUEUED (once), started
at the opening oldest first at a bounded rate, with their prices checked again; runs ready
inside it start at once; a model that needs adjustment cancels the queued runs it concerns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.execution_events import execution_event_id
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.queue import (
    QueueDrain,
    on_model_status_changed,
    on_price_updated,
)
from rebal_order_router.service_layer.rereport import rereport_recent
from rebal_schemas import (
    ModelStatus,
    ModelStatusChanged,
    OrderClosed,
    OrderFilled,
    PriceUpdated,
    RunExecutionQueued,
    RunExecutionStarted,
    RunExecutionStopped,
)

from .conftest import NIGHT, OPENING

ONE_SELL = ((1, "AAPL", "sell", "5"),)


def kinds(events: list) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    return [(e.event_type, e.run_id) for e in events if e.event_type.startswith("run.execution")]


def price(symbol: str, value: str, as_of: datetime = NIGHT) -> PriceUpdated:
    return PriceUpdated(symbol=symbol, price=Decimal(value), as_of=as_of, producer="price-feed")


async def test_a_run_ready_at_night_is_queued_until_the_opening_then_started_once(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    assert await on_optimization_ready(window_ctx, make_ready()) is True

    (queued,) = outbox()
    assert isinstance(queued, RunExecutionQueued)
    assert queued.starts_at == OPENING.astimezone(UTC)
    assert queued.occurred_at == NIGHT.astimezone(UTC)
    assert queued.event_id == execution_event_id("opt-1", "queued")
    assert await window_ctx.runs.queued_runs() == ["opt-1"]
    assert await window_ctx.runs.runs_needing_dispatch() == []
    assert await window_ctx.runs.open_runs() == []  # nothing at the broker to reconcile
    dispatcher, drain = Dispatcher(window_ctx), QueueDrain(window_ctx)
    assert await dispatcher.dispatch_run("opt-1") is True  # nothing may leave yet
    assert await drain.drain_once() == 0
    assert broker.calls == []

    clock.set(OPENING - timedelta(seconds=1))
    assert await drain.drain_once() == 0
    clock.set(OPENING)
    assert await drain.drain_once() == 1
    assert await window_ctx.runs.queued_runs() == []
    await dispatcher.dispatch_run("opt-1")

    assert len(broker.submits()) == 2  # the sell, then the buy
    started = [e for e in outbox() if isinstance(e, RunExecutionStarted)]
    assert [(s.started_at, s.event_id) for s in started] == [
        (OPENING.astimezone(UTC), execution_event_id("opt-1", "started"))
    ]  # once, with the first order
    assert kinds(outbox()) == [
        ("run.execution_queued", "opt-1"),
        ("run.execution_started", "opt-1"),
    ]


async def test_a_redelivered_ready_event_is_queued_once(window_ctx, make_ready, outbox) -> None:
    event = make_ready()
    await on_optimization_ready(window_ctx, event)
    assert await on_optimization_ready(window_ctx, event) is False
    assert kinds(outbox()) == [("run.execution_queued", "opt-1")]


async def test_a_run_ready_inside_the_window_starts_at_once_without_a_price_check(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    clock.set(OPENING + timedelta(hours=1))
    await on_price_updated(window_ctx, price("AAPL", "300"))  # +50 % from the plan: not checked
    await on_optimization_ready(window_ctx, make_ready(orders=ONE_SELL, expected={"AAPL": "200"}))

    assert await window_ctx.runs.runs_needing_dispatch() == ["opt-1"]
    await Dispatcher(window_ctx).dispatch_run("opt-1")

    assert len(broker.submits()) == 1
    assert kinds(outbox()) == [("run.execution_started", "opt-1")]


async def queue_runs(ctx, clock, make_ready, run_ids: list[str]) -> None:
    """Ready at night one minute apart, in the order given."""
    for minute, run_id in enumerate(run_ids):
        clock.set(NIGHT + timedelta(minutes=minute))
        await on_optimization_ready(ctx, make_ready(run_id, ONE_SELL, portfolio_id=f"pf-{run_id}"))


async def test_the_drain_starts_the_oldest_first_at_the_bounded_rate(
    window_ctx, clock, make_ready, outbox
) -> None:
    oldest_first = ["run-e", "run-d", "run-c", "run-b", "run-a"]  # not the ids' order
    await queue_runs(window_ctx, clock, make_ready, oldest_first)
    drain = QueueDrain(window_ctx, rate=2.0, poll_seconds=1.0)  # at most 2 a second

    clock.set(OPENING)
    assert await drain.drain_once() == 2
    assert await drain.drain_once() == 0  # no time passed: no budget
    clock.advance(timedelta(seconds=0.5))
    assert await drain.drain_once() == 1
    clock.advance(timedelta(minutes=10))  # a long pause does not allow a burst
    assert await drain.drain_once() == 2
    assert await window_ctx.runs.queued_runs() == []

    dispatcher = Dispatcher(window_ctx)
    for run_id in oldest_first:
        await dispatcher.dispatch_run(run_id)
    started = sorted(
        (e for e in outbox() if isinstance(e, RunExecutionStarted)), key=lambda e: e.started_at
    )
    assert [e.run_id for e in started] == oldest_first
    assert drain.started == 5 and drain.replans == 0


async def test_the_drain_leaves_the_queue_alone_outside_the_window(
    window_ctx, clock, make_ready
) -> None:
    await queue_runs(window_ctx, clock, make_ready, ["run-a"])
    drain = QueueDrain(window_ctx)
    for moment in (
        OPENING.replace(hour=15, minute=30),  # the close
        datetime(2026, 3, 14, 11, tzinfo=OPENING.tzinfo),  # a Saturday
        datetime(2026, 4, 3, 11, tzinfo=OPENING.tzinfo),  # Good Friday
    ):
        clock.set(moment)
        assert await drain.drain_once() == 0
    assert await window_ctx.runs.queued_runs() == ["run-a"]


async def test_a_queued_run_whose_price_moved_beyond_the_tolerance_is_replanned(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    orders = ((1, "AAPL", "sell", "5"), (2, "MSFT", "buy", "2"))
    await on_optimization_ready(
        window_ctx, make_ready(orders=orders, expected={"AAPL": "200", "MSFT": "400"})
    )
    await on_price_updated(window_ctx, price("AAPL", "205.10"))  # +2.55 %
    await on_price_updated(window_ctx, price("MSFT", "401"))  # +0.25 %

    clock.set(OPENING)
    drain = QueueDrain(window_ctx)
    assert await drain.drain_once() == 1

    (stop,) = [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert stop.outcome == "replan"
    assert "AAPL moved +2.55% (200 -> 205.10)" in stop.reason and "MSFT" not in stop.reason
    assert stop.stopped_at == OPENING.astimezone(UTC)
    assert stop.event_id == execution_event_id("opt-1", "stopped")
    assert not [e for e in outbox() if isinstance(e, OrderFilled | OrderClosed)]
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete
    assert await window_ctx.runs.open_runs() == [] and await window_ctx.runs.queued_runs() == []
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True
    assert broker.calls == [] and drain.replans == 1


async def test_a_queued_run_within_the_tolerance_or_without_a_price_starts(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    orders = ((1, "AAPL", "sell", "5"), (2, "VTI", "sell", "1"))
    await on_optimization_ready(window_ctx, make_ready(orders=orders, expected={"AAPL": "200"}))
    await on_price_updated(window_ctx, price("AAPL", "196"))  # -2 %: not beyond the tolerance
    await on_price_updated(window_ctx, price("VTI", "999"))  # no expected price: not checked
    await on_optimization_ready(
        window_ctx,
        make_ready("opt-2", orders=ONE_SELL, portfolio_id="pf-2", expected={"AAPL": "195"}),
    )  # -> 196 is +0.5 %
    await on_optimization_ready(
        window_ctx, make_ready("opt-3", ((1, "MSFT", "sell", "1"),), portfolio_id="pf-3")
    )  # MSFT never priced: nothing to compare

    clock.set(OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 3
    assert not [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert sorted(await window_ctx.runs.runs_needing_dispatch()) == ["opt-1", "opt-2", "opt-3"]


async def test_the_tolerance_is_a_setting(window_ctx, clock, make_ready, outbox) -> None:
    window_ctx.price_tolerance = Decimal("0.05")
    await on_optimization_ready(window_ctx, make_ready(orders=ONE_SELL, expected={"AAPL": "200"}))
    await on_price_updated(window_ctx, price("AAPL", "209"))  # +4.5 %
    clock.set(OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 1
    assert not [e for e in outbox() if isinstance(e, RunExecutionStopped)]


async def test_market_prices_keep_the_newest_quote(window_ctx) -> None:
    assert await on_price_updated(window_ctx, price("AAPL", "210", NIGHT))
    assert not await on_price_updated(window_ctx, price("AAPL", "190", NIGHT - timedelta(hours=1)))
    assert not await on_price_updated(window_ctx, price("AAPL", "210", NIGHT))  # a redelivery
    assert window_ctx.prices is not None
    assert await window_ctx.prices.last_prices({"AAPL", "MSFT"}) == {"AAPL": Decimal("210")}


def needs_adjustment(*symbols: str, status: ModelStatus = ModelStatus.needs_adjustment):
    return ModelStatusChanged(
        event_id="model-event-1",
        model_id="m-1",
        status=status,
        previous_status=ModelStatus.active,
        reason="symbol not tradable",
        symbols=symbols,
        producer="optimizer",
    )


async def test_a_model_that_needs_adjustment_cancels_the_queued_runs_trading_its_symbols(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    await on_optimization_ready(
        window_ctx, make_ready("opt-a", ((1, "AAPL", "sell", "5"), (2, "MSFT", "buy", "1")))
    )
    await on_optimization_ready(
        window_ctx, make_ready("opt-b", ((1, "VTI", "sell", "5"),), portfolio_id="pf-2")
    )

    assert await on_model_status_changed(window_ctx, needs_adjustment("MSFT", "TLT")) == 1
    assert await on_model_status_changed(window_ctx, needs_adjustment("MSFT", "TLT")) == 0
    assert await on_model_status_changed(window_ctx, needs_adjustment("VTI", status="active")) == 0

    (stop,) = [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert (stop.run_id, stop.outcome, stop.causation_id) == ("opt-a", "canceled", "model-event-1")
    assert stop.reason == "model m-1 needs adjustment: MSFT (symbol not tradable)"
    assert await window_ctx.runs.queued_runs() == ["opt-b"]

    clock.set(OPENING)  # a started run is not canceled by a model change
    assert await QueueDrain(window_ctx).drain_once() == 1
    assert await on_model_status_changed(window_ctx, needs_adjustment("VTI")) == 0
    await Dispatcher(window_ctx).dispatch_run("opt-a")
    await Dispatcher(window_ctx).dispatch_run("opt-b")
    assert [c for _, c in broker.calls] == ["rebal-opt-b-001.sell.VTI"]


async def test_a_rereport_publishes_the_execution_events_again_under_their_first_ids(
    window_ctx, store, clock, make_ready, outbox
) -> None:
    await on_optimization_ready(window_ctx, make_ready(orders=ONE_SELL, expected={"AAPL": "200"}))
    await on_price_updated(window_ctx, price("AAPL", "250"))
    clock.set(OPENING)
    await QueueDrain(window_ctx).drain_once()  # replanned
    first = {e.event_id: e for e in outbox()}
    await store.settle(await store.claim_pending("relay", 60))  # published; then the broker lost it

    assert await rereport_recent(window_ctx, "broker came back empty") == 2

    again = outbox()
    assert [e.event_type for e in again] == ["run.execution_queued", "run.execution_stopped"]
    assert all(
        first[e.event_id].model_dump(exclude={"recorded_at"})
        == e.model_dump(exclude={"recorded_at"})
        for e in again
    )
