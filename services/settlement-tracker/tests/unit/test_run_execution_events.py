"""run.execution (the order-router's reports of a PLATFORM run): queued, started, stopped. Each end
is published once, naming the cancel request that caused it; any arrival order, redeliveries and
re-runs give the same events."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal_schemas import (
    BrokerIntegration,
    CloseReason,
    Event,
    OrderStatus,
    PoisonMessage,
    RunStatus,
    RunStatusChanged,
    TransactionStatus,
)
from rebal_settlement_tracker.adapters.run_document import RUNS
from rebal_settlement_tracker.domain import AcceptancePolicy
from rebal_settlement_tracker.service_layer.provenance import FactRejectedMessage, Provenance

from .test_handlers import THURSDAY, WEDNESDAY, market_time

NOON = market_time(WEDNESDAY, 16)
FRIDAY = THURSDAY + timedelta(days=1)


async def planned(harness, run_events):  # type: ignore[no-untyped-def]
    """A harness at NOON with a planned PLATFORM run, and a cancel request for it."""
    h = harness(NOON)
    events = run_events()
    await h.handle(events.ready())
    return h, events, events.cancel()


def final_change(h, run_id: str) -> RunStatusChanged:  # type: ignore[no-untyped-def]
    change = h.statuses(run_id)[-1]
    assert isinstance(change, RunStatusChanged) and change.status.is_final
    return change


async def test_queued_stays_queued_and_started_is_in_progress(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 12))
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.queued(market_time(WEDNESDAY, 14, 30)))
    run = await h.run(events.run_id)
    assert run.execution_starts_at == market_time(WEDNESDAY, 14, 30)
    assert h.status_path() == ["QUEUED"]

    h.clock.set(market_time(WEDNESDAY, 14, 30))
    started = events.started(market_time(WEDNESDAY, 14, 30))
    await h.handle(started)
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]
    assert h.statuses()[-1].causation_id == started.event_id
    assert await h.handle(started) is False  # redelivered
    await h.handle(events.filled(0, "10", "200", WEDNESDAY))
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]  # started once


async def test_canceled_ends_the_run_at_once_naming_the_cancel_request(harness, run_events) -> None:
    h, events, cancel = await planned(harness, run_events)
    await h.handle(cancel)  # recorded: the order-router's to stop
    assert h.status_path() == ["QUEUED"]
    stop = events.stopped("canceled", NOON, reason="client", causation_id=cancel.event_id)
    await h.handle(stop)

    change = final_change(h, events.run_id)
    assert (change.previous_status, change.status) == (RunStatus.QUEUED, RunStatus.CANCELED)
    assert change.causation_id == cancel.event_id  # what `rebal cancel --wait` waits for
    assert change.reason == "canceled before any order executed: client"
    [completed] = h.completed()
    assert completed.status is RunStatus.CANCELED and completed.canceled_at == NOON
    assert completed.orders == () and not completed.replan
    assert [(o.status, o.transaction_status) for o in completed.failed_orders] == [
        (OrderStatus.canceled, TransactionStatus.CANCELLED)
    ] * 3
    assert all(o.canceled_at == NOON for o in completed.failed_orders)
    [settled] = h.run_settled()
    assert settled.status is RunStatus.CANCELED and settled.holdings_delta == {}
    assert await h.handle(cancel) is False and h.rejected() == []
    published = what_was_said(h)
    assert await h.handle(stop) is False  # redelivered
    assert await h.handle(stop.model_copy(update={"event_id": "again"})) is True  # moot now
    h.clock.set(market_time(WEDNESDAY, 20))
    assert await h.handlers.time_out_due() == await h.handlers.settle_due() == 0
    assert what_was_said(h) == published  # each said once


async def test_a_cancel_request_read_after_the_stop_it_caused_is_not_refused(
    harness, run_events
) -> None:
    h, events, cancel = await planned(harness, run_events)
    await h.handle(events.stopped("canceled", NOON, causation_id=cancel.event_id))
    await h.handle(cancel)
    assert h.rejected() == []  # answered by the status change, not RUN_FINAL
    await h.handle(events.cancel())  # another request for the ended run
    assert [r.reason_code.value for r in h.rejected()] == ["RUN_FINAL"]


async def test_replan_ends_canceled_with_its_reason_and_replan_on_both_reports(
    harness, run_events
) -> None:
    h = harness(NOON)
    events = run_events()
    await h.handle(events.ready())
    await h.handle(events.queued(market_time(WEDNESDAY, 14, 30)))
    await h.handle(events.stopped("replan", NOON, reason="prices moved beyond 2%: AAPL +3%"))
    [completed], [settled] = h.completed(), h.run_settled()
    assert completed.status is settled.status is RunStatus.CANCELED
    assert completed.replan and settled.replan
    assert (
        completed.reason == "re-planned before any order executed: prices moved beyond 2%: AAPL +3%"
    )


async def test_canceled_mid_run_waits_for_every_order_and_keeps_the_fills(
    harness, run_events
) -> None:
    h, events, cancel = await planned(harness, run_events)
    await h.handle(events.started(market_time(WEDNESDAY, 15)))
    await h.handle(events.filled(0, "10", "200", WEDNESDAY))
    await h.handle(events.stopped("canceled_mid_run", NOON, causation_id=cancel.event_id))
    assert h.completed() == []  # the broker's cancels are on their way
    await h.handle(events.closed(1, CloseReason.canceled, NOON))
    await h.handle(events.closed(2, CloseReason.not_executed, NOON))
    change = final_change(h, events.run_id)
    assert change.status is RunStatus.CANCELED_MID_RUN
    assert change.causation_id == cancel.event_id
    [completed] = h.completed()
    assert completed.holdings_delta == {"AAPL": Decimal(-10)}
    assert [o.leg for o in completed.failed_orders] == [1, 2]


def mid_run_events(events):  # type: ignore[no-untyped-def]
    return [
        events.ready(),
        events.started(market_time(WEDNESDAY, 15)),
        events.filled(0, "10", "200", WEDNESDAY),
        events.stopped("canceled_mid_run", NOON, causation_id="cancel-1"),
        events.filled(1, "2", "400", WEDNESDAY, final=False),
        events.closed(1, CloseReason.canceled, NOON, filled_qty="2", price="400"),
        events.closed(2, CloseReason.canceled, NOON),
    ]


def what_was_said(h) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every event published, by id and content (its recording time aside)."""

    def body(e: Event) -> str:
        return e.model_dump_json(exclude={"recorded_at", "causation_id"})

    return sorted((e.event_id, body(e)) for e in h.published())


@pytest.mark.parametrize(
    "order",
    [
        [0, 1, 2, 3, 4, 5, 6],
        [1, 3, 2, 4, 5, 6, 0],  # execution reports and fills before the plan
        [3, 6, 5, 4, 1, 0, 2],  # the stop first, the plan in the middle
        [2, 4, 5, 6, 0, 3, 1],  # the stop after every close
    ],
)
async def test_any_arrival_order_gives_the_same_events(harness, run_events, order) -> None:
    reference, shuffled = harness(NOON), harness(NOON)
    events = run_events()
    inputs = mid_run_events(events)
    for event in inputs:
        await reference.handle(event)
    for index in order:
        await shuffled.handle(inputs[index])
    for index in order:  # redelivered
        assert await shuffled.handle(inputs[index]) is False
    assert reference.status_path()[-1] == "CANCELED_MID_RUN"
    if order.index(3) < max(order.index(i) for i in (0, 2, 4, 5, 6)):
        assert what_was_said(shuffled) == what_was_said(reference)
        assert final_change(shuffled, events.run_id).causation_id == "cancel-1"
    else:  # read after every order was final, the stop is moot: the run completed by its orders
        assert shuffled.status_path()[-1] == "COMPLETED_ADJUSTED"


async def test_unsigned_reports_are_refused_when_signatures_are_verified(
    harness, run_events
) -> None:
    h = harness(NOON, acceptance=AcceptancePolicy(platform_signer="order-router"))
    events = run_events()
    await h.handle(events.ready())
    forged = events.stopped("canceled", NOON)
    with pytest.raises(FactRejectedMessage, match="must be signed by order-router: no signature"):
        await h.handle(forged)
    with pytest.raises(FactRejectedMessage, match="signed by scheduler"):
        await h.handle(forged, Provenance(signer="scheduler"))
    assert h.status_path() == ["QUEUED"] and h.handlers.rejected == {"not_signed_by_platform": 2}
    await h.handle(forged, Provenance(signer="order-router"))
    assert h.status_path() == ["QUEUED", "CANCELED"]


async def test_an_execution_report_of_a_client_run_is_a_poison_message(harness, run_events) -> None:
    h = harness(NOON)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    with pytest.raises(PoisonMessage, match="is CLIENT"):
        await h.handle(events.stopped("canceled", NOON))
    assert h.completed() == []


def replay(harness, inputs, order: list[int]):  # type: ignore[no-untyped-def]
    async def scenario():  # type: ignore[no-untyped-def]
        h = harness(NOON)
        for index in order:
            await h.handle(inputs[index])
        return h

    loop = asyncio.new_event_loop()  # hypothesis is synchronous: a loop of its own
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(list(range(7))), again=st.lists(st.integers(0, 6), max_size=4))
def test_a_stop_before_the_last_outcome_ends_the_run_the_same_way_in_any_order(
    harness, run_events, order, again
) -> None:
    events = run_events()
    inputs = mid_run_events(events)
    reference = replay(harness, inputs, list(range(7)))
    shuffled = replay(harness, inputs, [*order, *again])  # with redeliveries
    moot = order.index(3) > max(order.index(i) for i in (0, 2, 4, 5, 6))
    if moot:  # every order was final before the stop: the run completed by its orders
        assert shuffled.status_path()[-1] == "COMPLETED_ADJUSTED"
    else:
        assert what_was_said(shuffled) == what_was_said(reference)
        assert final_change(shuffled, events.run_id).causation_id == "cancel-1"
    assert len(shuffled.completed()) == 1


async def test_a_run_queued_again_waits_for_the_later_start(harness, run_events) -> None:
    """The order-router queues a run that sent nothing again when the window closed on it: a new
    run.execution_queued (`queued.1`, ...) with a later start. The run stays QUEUED, never having
    been IN_PROGRESS (no order left: the router published no run.execution_started)."""
    h = harness(market_time(WEDNESDAY, 12))
    events = run_events()
    first = events.queued(market_time(WEDNESDAY, 14, 30), event_id=f"{events.run_id}:queued")
    again = events.queued(market_time(THURSDAY, 14, 30), event_id=f"{events.run_id}:queued.1")
    await h.handle(events.ready())
    await h.handle(first)
    assert await h.handle(again) is True
    run = await h.run(events.run_id)
    assert run.execution_starts_at == market_time(THURSDAY, 14, 30)
    assert h.status_path() == ["QUEUED"]

    assert await h.handle(again) is False  # redelivered: the inbox drops it
    version = (await h.store.load(RUNS, events.run_id)).version  # type: ignore[union-attr]
    assert await h.handle(first.model_copy(update={"event_id": "older"})) is True  # stale: no-op
    assert (await h.run(events.run_id)).execution_starts_at == market_time(THURSDAY, 14, 30)
    assert (await h.store.load(RUNS, events.run_id)).version == version + 1  # type: ignore[union-attr]

    await h.handle(events.started(market_time(THURSDAY, 14, 30)))
    later = events.queued(market_time(FRIDAY, 14, 30), event_id=f"{events.run_id}:queued.2")
    await h.handle(later)  # moot once it started: the router never queues a started run
    assert (await h.run(events.run_id)).execution_starts_at == market_time(THURSDAY, 14, 30)
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]
