"""A run's reason fits the wire (run.status_changed / run.completed `reason`, at most MAX_REASON
characters) however long the reason it was given, and one run the sweep cannot move does not keep
it from the others."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rebal_runtime.store import StoreUnavailable
from rebal_schemas import BrokerIntegration, RunStatus
from rebal_schemas.events.run import MAX_REASON
from rebal_settlement_tracker.entrypoints.sweep import SettlementSweep
from rebal_settlement_tracker.service_layer.run_records import (
    SETTLE_DUE_INDEX,
    TIMEOUT_DUE_INDEX,
)

from .test_handlers import WEDNESDAY, market_time

NOON = market_time(WEDNESDAY, 16)
STARTED = market_time(WEDNESDAY, 14, 30)
DEADLINE = STARTED + timedelta(days=1)
LONGEST = "x" * MAX_REASON  # what a cancel request (or the order-router's stop) may carry


def assert_bounded(reason: str | None, starts: str) -> None:
    assert reason is not None and len(reason) == MAX_REASON
    assert reason.startswith(starts) and reason.endswith("…")


async def test_a_client_cancel_with_the_longest_reason_ends_canceled_with_a_bounded_reason(
    harness, run_events
) -> None:
    h = harness(NOON)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    cancel = events.cancel(reason=LONGEST)
    assert await h.handle(cancel) is True

    assert h.status_path() == ["QUEUED", "CANCELED"]
    [completed], [settled] = h.completed(), h.run_settled()
    assert completed.status is settled.status is RunStatus.CANCELED
    for reason in (h.statuses()[-1].reason, completed.reason):
        assert_bounded(reason, "canceled before any order executed: xxx")
    run = await h.run(events.run_id)  # the run keeps what it was told; only the wire is cut
    assert run.lifecycle.reason == f"canceled before any order executed: {LONGEST}"


async def started_run(h, events) -> None:  # type: ignore[no-untyped-def]
    await h.handle(events.ready())
    await h.handle(events.started(STARTED))
    await h.handle(events.filled(0, "10", "200", WEDNESDAY, at=STARTED))


async def test_a_stop_with_the_longest_reason_then_its_deadline_ends_timeout(
    harness, run_events
) -> None:
    h = harness(STARTED)
    events = run_events()
    await started_run(h, events)
    await h.handle(events.stopped("canceled_mid_run", STARTED, reason=LONGEST))
    assert h.status_path() == ["QUEUED", "IN_PROGRESS"]  # waits for the open legs' closes

    h.clock.set(DEADLINE)
    assert await h.handlers.time_out_due() > 0
    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "TIMEOUT"]
    [completed] = h.completed()
    for reason in (h.statuses()[-1].reason, completed.reason):
        assert_bounded(reason, "xxx")
    assert len(h.run_settled()) == 1  # the 10 AAPL settled Thursday: the portfolio is free


def failing_for(h, run_id: str, error: Exception) -> None:  # type: ignore[no-untyped-def]
    """Make every write of `run_id` fail with `error`."""
    real = h.handlers.runs.update

    async def update(doc_id, event_id, step):  # type: ignore[no-untyped-def]
        if doc_id == run_id:
            raise error
        return await real(doc_id, event_id, step)

    h.handlers.runs.update = update


async def test_a_run_the_sweep_cannot_move_does_not_stop_it_for_the_others(
    harness, run_events
) -> None:
    h = harness(STARTED - timedelta(minutes=1))
    broken, due, settling = run_events(), run_events(), run_events()
    await started_run(h, broken)  # the earliest deadline: swept first
    h.clock.set(STARTED)
    await started_run(h, due)
    await h.handle(settling.ready())
    for leg, fill in enumerate(("10", "4", "3")):
        await h.handle(settling.filled(leg, fill, "300", WEDNESDAY))  # settles Thursday
    failing_for(h, broken.run_id, ValueError("injected: this run cannot be written"))

    h.clock.set(DEADLINE)
    sweep = SettlementSweep(h.handlers, interval_seconds=60)
    assert await sweep.run_once() > 0
    assert h.status_path(broken.run_id) == ["QUEUED", "IN_PROGRESS"]  # left for the next round
    assert h.status_path(due.run_id)[-1] == "TIMEOUT"
    assert len(h.run_settled(settling.run_id)) == 1  # the settlements after the timeouts ran
    # it was due in both sweeps of the round (its Wednesday trade settles Thursday too)
    assert h.handlers.sweep_failures == {TIMEOUT_DUE_INDEX: 1, SETTLE_DUE_INDEX: 1}
    assert await sweep.run_once() == 0  # tried again, still failing; the others are done
    assert h.handlers.sweep_failures == {TIMEOUT_DUE_INDEX: 2, SETTLE_DUE_INDEX: 2}


async def test_a_store_that_is_down_fails_the_round_not_each_run(harness, run_events) -> None:
    h = harness(STARTED)
    events = run_events()
    await started_run(h, events)
    failing_for(h, events.run_id, StoreUnavailable("injected"))
    h.clock.set(DEADLINE)
    with pytest.raises(StoreUnavailable):  # the round fails; the periodic task tries again
        await h.handlers.time_out_due()
    assert h.handlers.sweep_failures == {}
