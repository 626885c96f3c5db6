"""A retry run (optimization.ready with `retry_of`) keeps the link to its original run on every
run object it publishes: run.created, each status change and run.completed; a run without it
publishes none."""

from __future__ import annotations

from .test_handlers import WEDNESDAY, fill_all, market_time


async def test_retry_of_travels_from_the_plan_to_every_run_object(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    await h.handle(events.ready(retry_of="O0RIGINALRUN000000000000000"))
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    statuses = h.statuses(events.run_id)
    assert len(statuses) >= 3  # created, in progress, completed
    assert {s.retry_of for s in statuses} == {"O0RIGINALRUN000000000000000"}
    [completed] = h.completed(events.run_id)
    assert completed.retry_of == "O0RIGINALRUN000000000000000"


async def test_a_run_that_is_no_retry_names_none(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    await h.handle(events.ready())
    [created] = h.statuses(events.run_id)
    assert created.retry_of is None
