"""run.cancel_requested read before the run's optimization.ready (another topic, no order between
them): the cancel is kept, and the run is stored already stopped as `canceled` when its ready
arrives, answering the request once; nothing is ever sent. Kept for a bounded time only."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rebal_order_router.domain import StopOutcome
from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.execution_events import execution_event_id
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.queue import QueueDrain
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_runtime.consume import Transient
from rebal_schemas import OrderClosed, RunExecutionStopped

from .conftest import OPENING
from .test_cancel_requests import cancel_request, stops


def execution_kinds(events: list) -> list[str]:  # type: ignore[type-arg]
    return [e.event_type for e in events if e.event_type.startswith("run.execution")]


async def test_a_cancel_before_the_ready_stops_the_run_when_it_arrives_and_nothing_is_sent(
    ctx, broker, make_ready, outbox
) -> None:
    assert await on_cancel_requested(ctx, cancel_request()) is False  # kept, nothing stopped yet
    assert outbox() == []

    assert await on_optimization_ready(ctx, make_ready()) is True

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]
    (stop,) = [e for e in outbox() if isinstance(e, RunExecutionStopped)]
    assert stop.reason == "owner asked" and stop.event_id == execution_event_id("opt-1", "stopped")
    assert execution_kinds(outbox()) == ["run.execution_stopped"]  # never queued, never started
    assert not [e for e in outbox() if isinstance(e, OrderClosed)]
    stored = await ctx.runs.get("opt-1")
    assert stored is not None and stored.run.start.stop is StopOutcome.CANCELED
    assert stored.run.is_complete
    assert await ctx.runs.runs_needing_dispatch() == [] and await ctx.runs.open_runs() == []
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert await reconcile_all(ctx) == 0
    assert broker.calls == []


async def test_a_queued_run_canceled_before_its_ready_never_queues(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    await on_cancel_requested(window_ctx, cancel_request())
    await on_optimization_ready(window_ctx, make_ready())

    assert execution_kinds(outbox()) == ["run.execution_stopped"]
    assert await window_ctx.runs.queued_runs() == []
    clock.set(OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 0
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True
    assert broker.calls == []


async def test_redelivered_cancels_and_ready_answer_the_request_once(
    ctx, broker, make_ready, outbox
) -> None:
    await on_cancel_requested(ctx, cancel_request())
    await on_cancel_requested(ctx, cancel_request())  # redelivered before the ready
    await on_cancel_requested(ctx, cancel_request(n=2))  # a second request: the first one counts
    ready = make_ready()
    assert await on_optimization_ready(ctx, ready) is True
    events = outbox()

    assert await on_optimization_ready(ctx, ready) is False  # the ready redelivered
    assert await on_cancel_requested(ctx, cancel_request()) is False  # the cancel, after it
    assert await on_cancel_requested(ctx, cancel_request(n=2)) is False

    assert outbox() == events
    assert stops(events) == [("opt-1", "canceled", "cancel-1")]
    assert broker.calls == []


async def test_a_kept_cancel_of_another_portfolio_does_not_stop_the_run(
    ctx, broker, make_ready, outbox
) -> None:
    await on_cancel_requested(ctx, cancel_request(portfolio_id="someone-else"))
    await on_optimization_ready(ctx, make_ready())

    assert stops(outbox()) == []
    await Dispatcher(ctx).dispatch_run("opt-1")
    assert len(broker.submits()) == 2


async def test_a_kept_cancel_expires_after_the_setting(
    ctx, broker, clock, make_ready, outbox
) -> None:
    ctx.pending_cancel_seconds = 3600.0
    await on_cancel_requested(ctx, cancel_request())
    clock.advance(timedelta(hours=1))
    await on_cancel_requested(ctx, cancel_request("opt-2", n=2))  # kept later: still pending

    await on_optimization_ready(ctx, make_ready())  # an hour after its cancel: expired
    await on_optimization_ready(ctx, make_ready("opt-2"))

    assert stops(outbox()) == [("opt-2", "canceled", "cancel-2")]
    await Dispatcher(ctx).dispatch_run("opt-1")
    assert len(broker.submits()) == 2  # opt-1 ran in full


async def test_kept_cancels_do_not_accumulate(ctx, clock, store) -> None:
    ctx.pending_cancel_seconds = 60.0
    for n in range(5):
        await on_cancel_requested(ctx, cancel_request(f"gone-{n}", n=n))
    clock.advance(timedelta(minutes=2))
    await on_cancel_requested(ctx, cancel_request("fresh", n=9))

    docs = [
        (await store.load(collection, doc_id))
        for collection in ("pending_cancels",)
        for doc_id in await store.scan(collection)
    ]
    assert len(docs) == 1 and docs[0] is not None
    assert sorted(docs[0].state["cancels"]) == ["fresh"]  # the expired ones were dropped


async def test_a_ready_stored_while_the_cancel_was_being_kept_is_still_canceled(
    ctx, broker, make_ready, outbox
) -> None:
    """The cancel reads no run, then the ready is stored (it found no kept cancel yet), then the
    cancel is kept: the cancel looks at the run again after keeping itself and stops it."""
    get = ctx.runs.get
    raced = False

    async def ready_arrives_in_between(run_id: str):  # type: ignore[no-untyped-def]
        nonlocal raced
        found = await get(run_id)
        if not raced:
            raced = True
            await on_optimization_ready(ctx, make_ready())
        return found

    ctx.runs.get = ready_arrives_in_between
    await on_cancel_requested(ctx, cancel_request())
    ctx.runs.get = get

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert broker.calls == []


async def test_a_cancel_kept_while_the_ready_was_being_stored_still_stops_the_run(
    ctx, broker, make_ready, outbox
) -> None:
    """The ready finds no kept cancel, the whole cancel runs (no run yet: it is kept), then the
    run is stored: the ready looks for a kept cancel again after storing the run."""
    create_many = ctx.runs.create_many

    async def cancel_arrives_in_between(runs):  # type: ignore[no-untyped-def]
        assert await on_cancel_requested(ctx, cancel_request()) is False
        return await create_many(runs)

    ctx.runs.create_many = cancel_arrives_in_between
    await on_optimization_ready(ctx, make_ready())
    ctx.runs.create_many = create_many

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert broker.calls == []


async def test_a_kept_cancel_found_while_another_instance_holds_the_run_is_applied_on_redelivery(
    ctx, store, broker, make_ready, outbox
) -> None:
    """The ready stores the run, then finds the cancel kept meanwhile, but another instance holds
    the run: Transient, the ready is read again, and the cancel (still kept) is applied then."""
    create_many = ctx.runs.create_many

    async def cancel_arrives_in_between(runs):  # type: ignore[no-untyped-def]
        await on_cancel_requested(ctx, cancel_request())
        created = await create_many(runs)
        assert await store.acquire_lease("run:opt-1", "another-router", 60)
        return created

    ctx.runs.create_many = cancel_arrives_in_between
    ready = make_ready()
    with pytest.raises(Transient):
        await on_optimization_ready(ctx, ready)
    ctx.runs.create_many = create_many
    assert stops(outbox()) == []
    await store.release_lease("run:opt-1", "another-router")

    assert await on_optimization_ready(ctx, ready) is False  # redelivered: the run is stored

    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert broker.calls == []
