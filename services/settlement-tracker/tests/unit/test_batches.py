"""A batch subscriber's list of events (`*_batch`): one store read and one write for it all, a
run's events applied in order in one step, with exactly the outcome of handling them one at a
time; a redelivered batch is applied once; a refused fact fails the call and writes nothing
(the consume policy then handles the batch one event at a time, `rebal_runtime.consume`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest

from rebal_runtime.store import Commit, Document
from rebal_schemas import CloseReason, Event, OrderClosed, OrderFilled
from rebal_settlement_tracker.service_layer.provenance import FactRejectedMessage

from .test_handlers import market_time

WEDNESDAY = date(2026, 3, 4)
START = market_time(WEDNESDAY, 14)


class Calls:
    """How often a harness's store is read and written by batch (`load_many`, `commit_many`)."""

    def __init__(self, h: Any) -> None:
        self.reads = 0
        self.writes: list[list[str]] = []
        load_many, commit_many = h.store.load_many, h.store.commit_many

        async def counted_load(collection: str, ids: Sequence[str]) -> dict[str, Document]:
            self.reads += 1
            return await load_many(collection, ids)

        async def counted_commit(commits: Sequence[Commit]) -> list[str]:
            self.writes.append([c.id for c in commits])
            return await commit_many(commits)

        h.store.load_many = counted_load  # type: ignore[method-assign]
        h.store.commit_many = counted_commit  # type: ignore[method-assign]


def fills(events: Any) -> list[OrderFilled]:
    return [
        events.filled(0, "4", "200.50", WEDNESDAY, final=False),
        events.filled(0, "10", "200.50", WEDNESDAY),
        events.filled(1, "4", "400.125", WEDNESDAY),
        events.filled(2, "3.3333", "300.01", WEDNESDAY),
    ]


def published(h: Any) -> list[tuple[str, str]]:
    return [(e.event_type, e.event_id) for e in h.published()]


async def one_at_a_time(h: Any, events: Sequence[Event]) -> None:
    for event in events:
        await h.handle(event)


async def test_a_batch_of_one_runs_fills_is_one_read_one_write_and_equals_them_one_by_one(
    harness: Any, run_events: Any
) -> None:
    events, other = run_events(), run_events()
    batched, single = harness(START, cycle_days=0), harness(START, cycle_days=0)
    ready = [events.ready(), other.ready()]
    for h in (batched, single):
        await h.handlers.record_batch(ready)
    calls, commits = Calls(batched), batched.store.commits
    batch = [*fills(events), other.filled(0, "10", "200.50", WEDNESDAY)]

    await batched.handlers.record_batch(batch)
    await one_at_a_time(single, batch)

    assert calls.reads == 1 and calls.writes == [[events.run_id, other.run_id]]
    assert batched.store.commits == commits + 2  # a commit per run, not per fill
    assert published(batched) == published(single)  # in the same order
    assert await batched.run(events.run_id) == await single.run(events.run_id)
    assert batched.status_path(events.run_id) == [
        "QUEUED",
        "IN_PROGRESS",
        "COMPLETED_SUCCESS",
    ]
    [done] = batched.completed(events.run_id)
    assert [o.transaction_status.value for o in done.orders] == ["SETTLED"] * 3  # T+0
    assert len(batched.run_settled(events.run_id)) == 1


async def test_a_run_and_its_events_in_batches_of_every_topic(
    harness: Any, run_events: Any
) -> None:
    events = run_events()
    batched, single = harness(START, cycle_days=0), harness(START, cycle_days=0)
    ready = [events.ready()]
    execution = [events.queued(START), events.started(START)]
    filled = [events.filled(0, "10", "200.50", WEDNESDAY)]
    closed: list[OrderClosed] = [
        events.closed(1, CloseReason.canceled, START),
        events.closed(2, CloseReason.expired, START),
    ]
    calls = Calls(batched)
    await batched.handlers.record_batch(execution)  # before the plan: kept on the run
    await batched.handlers.record_batch(ready)
    await batched.handlers.record_batch(filled)
    await batched.handlers.record_batch(closed)
    await one_at_a_time(single, [*execution, *ready, *filled, *closed])

    assert calls.reads == 4 and len(calls.writes) == 4
    assert published(batched) == published(single)
    assert await batched.run(events.run_id) == await single.run(events.run_id)
    assert batched.status_path(events.run_id)[-1] == "COMPLETED_ADJUSTED"


async def test_one_batch_mixing_every_topic_is_one_read_one_write_and_equals_them_one_by_one(
    harness: Any, run_events: Any
) -> None:
    # The tracker's one consumer of the four topics hands it such a batch: the execution report
    # may come before the plan, the fills and closes after it, another run's plan in between.
    events, other = run_events(), run_events()
    batched, single = harness(START, cycle_days=0), harness(START, cycle_days=0)
    batch: list[Any] = [
        events.queued(START),
        events.ready(),
        other.ready(),
        events.started(START),
        events.filled(0, "10", "200.50", WEDNESDAY),
        other.filled(0, "10", "200.50", WEDNESDAY),
        events.closed(1, CloseReason.canceled, START),
        events.closed(2, CloseReason.expired, START),
    ]
    calls = Calls(batched)
    await batched.handlers.record_batch(batch)
    await one_at_a_time(single, batch)

    assert calls.reads == 1 and len(calls.writes) == 1
    assert sorted(calls.writes[0]) == sorted([events.run_id, other.run_id])
    # the same events; each run's in the same order (two runs' are on keys of their own)
    assert sorted(published(batched)) == sorted(published(single))
    for run_id in (events.run_id, other.run_id):
        assert batched.status_path(run_id) == single.status_path(run_id)
        assert await batched.run(run_id) == await single.run(run_id)
    assert batched.status_path(events.run_id)[-1] == "COMPLETED_ADJUSTED"
    assert batched.status_path(other.run_id)[-1] == "IN_PROGRESS"


async def test_a_redelivered_batch_and_a_repeat_inside_one_are_applied_once(
    harness: Any, run_events: Any
) -> None:
    events = run_events()
    h = harness(START, cycle_days=0)
    ready = events.ready()
    await h.handlers.record_batch([ready])
    batch = fills(events)
    await h.handlers.record_batch([*batch, batch[2]])
    before, commits = published(h), h.store.commits
    calls = Calls(h)

    await h.handlers.record_batch(batch)  # the batch read again after a crash
    await h.handlers.record_batch([ready])

    assert published(h) == before and h.store.commits == commits
    assert calls.writes == []  # every event id was in the run's inbox: nothing written
    assert len(h.completed(events.run_id)) == 1
    doc = await h.store.load("runs", events.run_id)
    assert doc is not None and all(doc.has_processed(e.event_id) for e in batch)


async def test_a_refused_fact_fails_the_batch_call_and_writes_nothing_of_it(
    harness: Any, run_events: Any
) -> None:
    events = run_events()
    h = harness(START, cycle_days=0)
    await h.handlers.record_batch([events.ready()])
    good = fills(events)
    unknown_leg = events.filled(5, "1", "10", WEDNESDAY)
    batch = [good[0], unknown_leg, *good[1:]]
    before, commits = published(h), h.store.commits

    with pytest.raises(FactRejectedMessage, match="leg 5 is not in the plan"):
        await h.handlers.record_batch(batch)
    assert published(h) == before and h.store.commits == commits
    assert h.handlers.rejected.total() == 0  # counted when handled alone, not twice

    # what the consume policy does next: each event as a batch of its own
    for event in batch:
        if event is unknown_leg:
            with pytest.raises(FactRejectedMessage):
                await h.handlers.record_batch([event])
        else:
            await h.handlers.record_batch([event])
    assert h.handlers.rejected == {"unknown_leg": 1}
    assert h.status_path(events.run_id)[-1] == "COMPLETED_SUCCESS"
