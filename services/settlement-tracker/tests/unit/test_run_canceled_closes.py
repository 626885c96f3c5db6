"""order.closed `run_canceled`: a leg the order-router closed because the run was canceled. The
router commits its run.execution_stopped with those closes, but the two travel on different topics:
a close read first must not complete the run by itself (it would end COMPLETED_ADJUSTED, not
CANCELED_MID_RUN). The run waits for the stop, or for its deadline if the stop never comes."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rebal_schemas import BrokerIntegration, CloseReason, RunStatus, RunStatusChanged

from .test_handlers import WEDNESDAY, market_time
from .test_run_execution_events import what_was_said

NOON = market_time(WEDNESDAY, 16)
DAY = timedelta(days=1)


def race_events(events, cancel_id: str):  # type: ignore[no-untyped-def]
    """A sell filled, then the run canceled: its two buys closed by the cancel, and the stop."""
    return {
        "fill": events.filled(0, "10", "200", WEDNESDAY),
        "close_1": events.closed(1, CloseReason.canceled, NOON, run_canceled=True),
        "close_2": events.closed(2, CloseReason.not_executed, NOON, run_canceled=True),
        "stop": events.stopped("canceled_mid_run", NOON, causation_id=cancel_id),
    }


async def canceled_run(harness, run_events):  # type: ignore[no-untyped-def]
    h = harness(NOON)
    events = run_events()
    cancel = events.cancel()
    await h.handle(events.ready())
    await h.handle(events.started(market_time(WEDNESDAY, 15)))
    return h, events, cancel, race_events(events, cancel.event_id)


def assert_canceled_mid_run(h, events, cancel) -> None:  # type: ignore[no-untyped-def]
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "CANCELED_MID_RUN"]
    final = h.statuses(events.run_id)[-1]
    assert isinstance(final, RunStatusChanged) and final.causation_id == cancel.event_id
    [completed] = h.completed(events.run_id)
    assert completed.status is RunStatus.CANCELED_MID_RUN
    assert completed.holdings_delta == {"AAPL": Decimal(-10)}  # the sell's fill is kept
    assert [o.leg for o in completed.failed_orders] == [1, 2]
    assert h.rejected() == []  # the stop answered the request: no RUN_FINAL


async def test_closes_read_before_the_stop_wait_for_it_then_end_canceled_mid_run(
    harness, run_events
) -> None:
    h, events, cancel, race = await canceled_run(harness, run_events)
    await h.handle(cancel)  # recorded, left to the order-router
    for name in ("fill", "close_1", "close_2"):
        await h.handle(race[name])
    run = await h.run(events.run_id)
    assert all(tx.is_order_final for tx in run.transactions.values())
    assert not run.is_completed and h.completed() == []  # every leg final, yet it waits
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]

    await h.handle(race["stop"])
    assert_canceled_mid_run(h, events, cancel)


async def test_the_stop_read_before_the_closes_ends_the_run_as_before(harness, run_events) -> None:
    h, events, cancel, race = await canceled_run(harness, run_events)
    await h.handle(cancel)
    for name in ("fill", "stop", "close_1"):
        await h.handle(race[name])
    assert h.completed() == []  # canceled mid-run: waits for every close
    await h.handle(race["close_2"])
    assert_canceled_mid_run(h, events, cancel)


async def test_redeliveries_of_the_closes_and_the_stop_change_nothing(harness, run_events) -> None:
    h, events, cancel, race = await canceled_run(harness, run_events)
    await h.handle(cancel)
    for name in ("fill", "close_1", "close_2"):
        await h.handle(race[name])
    assert await h.handle(race["close_1"]) is False  # redelivered
    again = race["close_2"].model_copy(update={"event_id": "close-2-again"})
    assert await h.handle(again) is True  # the same fact under another id: a no-op
    assert h.completed() == []
    await h.handle(race["stop"])
    published = len(h.published())
    for name in ("stop", "close_1", "close_2", "fill"):
        assert await h.handle(race[name]) is False
    assert len(h.published()) == published
    assert_canceled_mid_run(h, events, cancel)


async def test_closes_not_caused_by_a_run_cancel_complete_the_run_as_before(
    harness, run_events
) -> None:
    h, events, _, race = await canceled_run(harness, run_events)
    await h.handle(race["fill"])
    await h.handle(events.closed(1, CloseReason.canceled, NOON))
    await h.handle(events.closed(2, CloseReason.expired, NOON, run_canceled=False))
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "COMPLETED_ADJUSTED"]


async def test_a_stop_that_never_comes_leaves_the_run_to_its_deadline(harness, run_events) -> None:
    h, events, cancel, race = await canceled_run(harness, run_events)
    await h.handle(cancel)
    for name in ("fill", "close_1", "close_2"):
        await h.handle(race[name])
    h.clock.set(NOON + DAY)
    assert await h.handlers.time_out_due() > 0
    assert h.status_path()[-1] == "TIMEOUT"
    [completed] = h.completed(events.run_id)
    assert completed.holdings_delta == {"AAPL": Decimal(-10)}
    assert [(o.leg, o.status.value) for o in completed.failed_orders] == [
        (1, "canceled"),  # their own closes stand: the deadline only ends what is open
        (2, "canceled"),
    ]
    [rejected] = h.rejected()  # the request the run's end did not answer
    assert (rejected.reason_code.value, rejected.causation_id) == ("RUN_FINAL", cancel.event_id)
    # the stop arriving after all is moot
    await h.handle(race["stop"])
    assert len(h.completed(events.run_id)) == 1


async def test_a_client_run_does_not_wait_for_a_stop_no_order_router_gives(
    harness, run_events
) -> None:
    h = harness(NOON)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    await h.handle(events.filled(0, "10", "200", WEDNESDAY))
    for leg in (1, 2):
        await h.handle(events.closed(leg, CloseReason.canceled, NOON, run_canceled=True))
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "COMPLETED_ADJUSTED"]


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
@given(order=st.permutations(list(range(6))), again=st.lists(st.integers(0, 5), max_size=4))
def test_with_the_flag_the_stop_is_never_moot_whatever_the_order(
    harness, run_events, order, again
) -> None:
    """Unlike closes without the flag (`test_run_execution_events.py`: a stop read after every
    close is moot), the run ends CANCELED_MID_RUN, saying the same, in any order."""
    events = run_events()
    race = race_events(events, "cancel-1")
    inputs = [
        events.ready(),
        events.started(market_time(WEDNESDAY, 15)),
        race["fill"],
        race["close_1"],
        race["close_2"],
        race["stop"],
    ]
    reference = replay(harness, inputs, list(range(6)))
    shuffled = replay(harness, inputs, [*order, *again])  # with redeliveries
    assert shuffled.status_path()[-1] == "CANCELED_MID_RUN"
    assert what_was_said(shuffled) == what_was_said(reference)
    assert len(shuffled.completed()) == 1
