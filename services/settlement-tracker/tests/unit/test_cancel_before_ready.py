"""run.cancel_requested read before the run's optimization.ready (another topic, read in no order
with it): the cancel is kept on the run's document and applied when the plan arrives, as the
order-router does, so that the client never gets both a refusal and a canceled run. Only a cancel
still unmatched when its wait is over is refused RUN_UNKNOWN, by the sweep."""

from __future__ import annotations

from datetime import timedelta

from rebal_schemas import BrokerIntegration, RejectionCode, RunStatus, RunStatusChanged
from rebal_settlement_tracker.adapters.run_document import REFUSALS, RUNS
from rebal_settlement_tracker.domain import MAX_KEPT_CANCELS
from rebal_settlement_tracker.entrypoints.sweep import SettlementSweep
from rebal_settlement_tracker.service_layer.messages import event_id_for
from rebal_settlement_tracker.service_layer.run_records import KEPT_CANCEL_DUE_INDEX, instant_key

from .test_handlers import WEDNESDAY, market_time

READ_AT = market_time(WEDNESDAY, 14)
WAIT = timedelta(hours=2)


def kept_harness(harness):  # type: ignore[no-untyped-def]
    return harness(READ_AT, cancel_wait=WAIT)


async def test_a_platform_run_arriving_after_its_cancel_records_it_for_the_router(
    harness, run_events
) -> None:
    h = kept_harness(harness)
    events = run_events()
    cancel = events.cancel()
    assert await h.handle(cancel) is True
    assert h.published() == [] and h.rejected() == []  # no answer yet: its run may be on its way
    kept = await h.run(events.run_id)
    assert not kept.is_planned and [c.request_id for c in kept.kept_cancels] == [cancel.event_id]
    assert await h.handle(cancel) is False  # redelivered

    h.clock.set(READ_AT + timedelta(minutes=5))
    await h.handle(events.ready())
    run = await h.run(events.run_id)
    assert (run.cancel_requested_at, run.cancel_request_id) == (READ_AT, cancel.event_id)
    assert run.kept_cancels == () and h.status_path() == ["QUEUED"]  # the router stops it
    assert await h.handle(cancel) is False  # redelivered after: still answered once

    # the order-router kept it too, and stored the run already stopped, naming the request
    await h.handle(events.stopped("canceled", h.clock.now(), causation_id=cancel.event_id))
    assert h.status_path() == ["QUEUED", "CANCELED"]
    final = h.statuses()[-1]
    assert isinstance(final, RunStatusChanged) and final.causation_id == cancel.event_id
    h.clock.set(READ_AT + 2 * WAIT)
    assert await h.handlers.expire_kept_cancels() == 0
    assert h.rejected() == []  # never refused


async def test_a_client_run_arriving_after_its_cancel_is_canceled_at_once(
    harness, run_events
) -> None:
    h = kept_harness(harness)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    cancel = events.cancel()
    await h.handle(cancel)
    h.clock.set(READ_AT + timedelta(minutes=5))
    ready = events.ready()
    await h.handle(ready)

    assert h.status_path() == ["QUEUED", "CANCELED"]
    final = h.statuses()[-1]
    assert isinstance(final, RunStatusChanged) and final.causation_id == cancel.event_id
    assert final.reason == "canceled before any order executed: client changed its mind"
    [completed] = h.completed()
    assert completed.status is RunStatus.CANCELED and completed.canceled_at == h.clock.now()
    assert h.rejected() == []
    assert await h.handle(cancel) is False
    assert await h.handle(ready) is False
    assert await h.handle(ready.model_copy(update={"event_id": "ready-again"})) is True  # no-op
    h.clock.set(READ_AT + 2 * WAIT)
    await h.handlers.expire_kept_cancels()
    assert len(h.completed()) == 1 and h.rejected() == []


async def test_a_cancel_still_unmatched_after_its_wait_is_refused_once_by_the_sweep(
    harness, run_events
) -> None:
    h = kept_harness(harness)
    events = run_events()
    cancel = events.cancel()
    await h.handle(cancel)
    due = READ_AT + WAIT
    assert await h.store.query(RUNS, KEPT_CANCEL_DUE_INDEX, instant_key(due)) == [events.run_id]
    h.clock.set(due - timedelta(seconds=1))
    commits = h.store.commits
    assert await h.handlers.expire_kept_cancels() == 0 and h.store.commits == commits

    h.clock.set(due)
    assert await h.handlers.expire_kept_cancels() == 1
    [rejected] = h.rejected()
    assert rejected.reason_code is RejectionCode.RUN_UNKNOWN
    assert rejected.causation_id == cancel.event_id
    assert (rejected.run_id, rejected.portfolio_id, rejected.account_id) == (
        events.run_id,
        events.portfolio_id,
        None,
    )
    assert rejected.event_id == event_id_for(events.run_id, f"request.rejected:{cancel.event_id}")
    assert rejected.message.startswith(
        f"no run {events.run_id} for portfolio {events.portfolio_id}"
    )
    assert await h.store.query(RUNS, KEPT_CANCEL_DUE_INDEX, instant_key(due), op="le") == []
    assert await h.handlers.expire_kept_cancels() == 0  # once
    assert await h.handle(cancel) is False  # redelivered: answered already

    await h.handle(events.ready())  # a plan arriving after all is not canceled by it
    assert h.status_path() == ["QUEUED"]
    assert (await h.run(events.run_id)).cancel_requested_at is None
    assert len(h.rejected()) == 1


async def test_the_sweep_loop_refuses_expired_cancels(harness, run_events) -> None:
    h = kept_harness(harness)
    events = run_events()
    await h.handle(events.cancel())
    h.clock.set(READ_AT + WAIT)
    assert await SettlementSweep(h.handlers, interval_seconds=1).run_once() == 1
    assert [r.reason_code for r in h.rejected()] == [RejectionCode.RUN_UNKNOWN]


async def test_a_cancel_of_a_run_known_only_by_early_facts_is_kept(harness, run_events) -> None:
    h = kept_harness(harness)
    events = run_events()
    await h.handle(events.filled(0, "10", "200", WEDNESDAY))  # a fact, but no plan yet
    cancel = events.cancel()
    await h.handle(cancel)
    assert h.rejected() == []
    await h.handle(events.ready())
    run = await h.run(events.run_id)
    assert run.cancel_request_id == cancel.event_id and len(run.fills) == 1
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]


async def test_a_kept_cancel_naming_another_portfolio_neither_applies_nor_blocks_the_run(
    harness, run_events
) -> None:
    h = kept_harness(harness)
    events = run_events()
    stranger = events.cancel(portfolio_id="someone-else")
    await h.handle(stranger)
    await h.handle(events.ready())  # its document held only that cancel: no claim on the run
    run = await h.run(events.run_id)
    assert run.portfolio_id == events.portfolio_id and run.cancel_requested_at is None
    assert h.status_path() == ["QUEUED"]
    h.clock.set(READ_AT + WAIT)
    await h.handlers.expire_kept_cancels()
    [rejected] = h.rejected()
    assert (rejected.reason_code, rejected.causation_id, rejected.portfolio_id) == (
        RejectionCode.RUN_UNKNOWN,
        stranger.event_id,
        "someone-else",
    )


async def test_a_cancel_of_a_known_run_of_another_portfolio_is_refused_at_once(
    harness, run_events
) -> None:
    h = kept_harness(harness)
    events = run_events()
    await h.handle(events.ready())
    before = await h.store.load(RUNS, events.run_id)
    cancel = events.cancel(portfolio_id="someone-else")
    await h.handle(cancel)
    [rejected] = h.rejected()
    assert (rejected.reason_code, rejected.causation_id) == (
        RejectionCode.RUN_UNKNOWN,
        cancel.event_id,
    )
    after = await h.store.load(RUNS, events.run_id)
    assert before is not None and after is not None and after.version == before.version
    assert await h.store.load(REFUSALS, cancel.event_id) is not None
    assert await h.handle(cancel) is False


async def test_cancels_kept_for_one_run_are_bounded(harness, run_events) -> None:
    h = kept_harness(harness)
    events = run_events()
    cancels = [events.cancel() for _ in range(MAX_KEPT_CANCELS + 2)]
    for cancel in cancels:
        await h.handle(cancel)
    kept = (await h.run(events.run_id)).kept_cancels
    assert [c.request_id for c in kept] == [c.event_id for c in cancels[:MAX_KEPT_CANCELS]]
    refused = [(r.reason_code, r.causation_id) for r in h.rejected()]  # the rest: at once
    assert refused == [(RejectionCode.RUN_UNKNOWN, c.event_id) for c in cancels[-2:]]

    await h.handle(events.ready())  # the first is what the router's stop will name
    assert (await h.run(events.run_id)).cancel_request_id == cancels[0].event_id
    assert len(h.rejected()) == 2


async def test_a_ready_read_first_then_the_cancel_is_handled_as_before(harness, run_events) -> None:
    h = kept_harness(harness)
    events = run_events()
    await h.handle(events.ready())
    cancel = events.cancel()
    await h.handle(cancel)
    run = await h.run(events.run_id)
    assert run.cancel_request_id == cancel.event_id and run.kept_cancels == ()
    assert await h.store.query(RUNS, KEPT_CANCEL_DUE_INDEX, instant_key(READ_AT + WAIT)) == []
