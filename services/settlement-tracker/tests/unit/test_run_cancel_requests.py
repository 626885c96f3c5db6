"""run.cancel_requested: refused with request.rejected when the run is unknown or final, else
recorded on the run and left to the order-router. Each answer once. (A run not planned yet keeps
its cancels: `test_cancel_before_ready.py`.)"""

from __future__ import annotations

from datetime import timedelta

from rebal_schemas import CloseReason, RejectionCode, RunStatus
from rebal_settlement_tracker.adapters.run_document import REFUSALS, RUNS
from rebal_settlement_tracker.service_layer.messages import event_id_for

from .test_handlers import WEDNESDAY, fill_all, market_time


async def test_a_cancel_of_a_run_not_planned_yet_waits_for_it_and_is_refused_once(
    harness, run_events
) -> None:
    """Its plan may still be on its way (`test_cancel_before_ready.py`): refused RUN_UNKNOWN only
    once its wait is over, by the sweep."""
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    cancel = events.cancel()
    assert await h.handle(cancel) is True
    assert h.rejected() == []
    assert await h.store.load(REFUSALS, cancel.event_id) is None
    h.clock.set(market_time(WEDNESDAY, 14) + timedelta(days=1))
    await h.handlers.expire_kept_cancels()

    [rejected] = h.rejected()
    assert rejected.reason_code is RejectionCode.RUN_UNKNOWN
    assert rejected.causation_id == cancel.event_id
    assert rejected.request_event_type == "run.cancel_requested"
    assert (rejected.portfolio_id, rejected.run_id, rejected.account_id) == (
        events.portfolio_id,
        events.run_id,
        None,
    )
    assert rejected.message == (
        f"no run {events.run_id} for portfolio {events.portfolio_id} (none came within 86400 s "
        "of the request)"
    )
    assert rejected.event_id == event_id_for(events.run_id, f"request.rejected:{cancel.event_id}")

    assert await h.handle(cancel) is False  # redelivered: answered already
    await h.handle(events.ready())  # the plan arriving later is not held by the refusal
    assert await h.handle(cancel) is False
    assert len(h.rejected()) == 1 and h.status_path() == ["QUEUED"]


async def test_a_cancel_naming_another_portfolio_is_unknown_and_one_without_plan_waits(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    planned, early = run_events(), run_events()
    await h.handle(planned.ready())
    await h.handle(early.filled(0, "10", "200", WEDNESDAY))  # a fact, but no plan yet
    before = await h.store.load(RUNS, planned.run_id)

    await h.handle(planned.cancel(portfolio_id="someone-else"))
    await h.handle(early.cancel())
    codes = [(r.run_id, r.portfolio_id, r.reason_code) for r in h.rejected()]
    assert codes == [(planned.run_id, "someone-else", RejectionCode.RUN_UNKNOWN)]
    after = await h.store.load(RUNS, planned.run_id)  # nothing recorded on the planned run
    assert after is not None and before is not None and after.version == before.version
    assert len((await h.run(early.run_id)).kept_cancels) == 1  # kept for the early one's plan


async def test_a_cancel_of_a_final_run_is_refused_once(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16))
    events = run_events(orders=run_events().orders[:1])
    await h.handle(events.ready())
    await h.handle(events.closed(0, CloseReason.rejected, market_time(WEDNESDAY, 16)))
    assert (await h.run(events.run_id)).status == RunStatus.ERROR

    cancel = events.cancel()
    await h.handle(cancel)
    assert await h.handle(cancel) is False
    [rejected] = h.rejected()
    assert rejected.reason_code is RejectionCode.RUN_FINAL
    assert rejected.message == f"run {events.run_id} is already ERROR"
    assert (rejected.causation_id, rejected.account_id) == (cancel.event_id, events.account_id)
    assert (await h.store.load(REFUSALS, cancel.event_id)) is None  # answered with the run


async def test_a_cancel_of_a_running_run_is_recorded_and_left_to_the_order_router(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    first, *rest = fill_all(events, WEDNESDAY)
    await h.handle(events.ready())
    await h.handle(first)
    published = len(h.published())

    cancel = events.cancel()
    assert await h.handle(cancel) is True
    run = await h.run(events.run_id)
    assert run.cancel_requested_at == h.clock.now()
    assert run.status == RunStatus.IN_PROGRESS and run.canceled_at is None
    assert len(h.published()) == published  # no answer yet: the order-router's to give
    assert await h.handle(cancel) is False
    assert await h.handle(events.cancel()) is True  # asked again: still recorded once
    assert (await h.run(events.run_id)).cancel_requested_at == run.cancel_requested_at

    for fill in rest:  # the router never stopped it (every order was final): it completes
        await h.handle(fill)
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "COMPLETED_SUCCESS"]
    # ... and the request it did not act on is answered then, once, with RUN_FINAL
    [rejected] = h.rejected()
    assert rejected.reason_code is RejectionCode.RUN_FINAL
    assert (rejected.causation_id, rejected.run_id) == (cancel.event_id, events.run_id)
    assert rejected.event_id == event_id_for(events.run_id, f"request.rejected:{cancel.event_id}")
    assert (
        rejected.message
        == f"run {events.run_id} ended COMPLETED_SUCCESS before the cancel took effect"
    )
    assert rejected.account_id == events.account_id
    await h.handle(cancel)  # redelivered: answered already
    h.clock.set(market_time(WEDNESDAY, 20))
    await h.handlers.settle_due()
    assert len(h.rejected()) == 1


async def test_a_cancel_request_the_deadline_overtook_is_answered_with_run_final(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 14, 30))
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.started(market_time(WEDNESDAY, 14, 30)))
    cancel = events.cancel()
    await h.handle(cancel)
    # the order-router stopped the run mid-run for it, but the deadline came before the closes:
    # the TIMEOUT status change names no cause, so nothing would answer the client
    stop = events.stopped(
        "canceled_mid_run", market_time(WEDNESDAY, 15), causation_id=cancel.event_id
    )
    await h.handle(stop)
    h.clock.set(market_time(WEDNESDAY, 14, 30) + timedelta(days=1))
    await h.handlers.time_out_due()
    assert h.status_path()[-1] == "TIMEOUT"
    [rejected] = h.rejected()
    assert (rejected.reason_code, rejected.causation_id) == (
        RejectionCode.RUN_FINAL,
        cancel.event_id,
    )
