"""After the broker lost records, recently completed runs say run.completed again, identically."""

from __future__ import annotations

from datetime import timedelta

from rebal_settlement_tracker.domain import UnblockOn
from rebal_settlement_tracker.service_layer.rereport import rereport_recent

from .test_handlers import WEDNESDAY, fill_all, market_time


async def test_a_completed_run_publishes_the_same_run_completed_again(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14), cycle_days=0)
    done, open_run = run_events(), run_events()
    await h.handle(done.ready())
    for fill in fill_all(done, WEDNESDAY):
        await h.handle(fill)
    await h.handle(open_run.ready())  # planned, nothing executed: nothing to say again
    [first] = h.completed(done.run_id)

    h.clock.set(market_time(WEDNESDAY, 20))
    assert await rereport_recent(h.handlers, "test") == 1

    again = h.completed(done.run_id)
    assert len(again) == 2
    # the same event id, cause, content and completion time; only recorded_at is when it was said
    assert again[1].model_copy(update={"recorded_at": first.recorded_at}) == first
    assert h.completed(open_run.run_id) == []
    assert (await h.run(done.run_id)).completed  # the state did not move


async def test_only_runs_completed_today_or_yesterday_are_said_again(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14), cycle_days=0, unblock_on=UnblockOn.EXECUTED)
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    assert len(h.completed(events.run_id)) == 1

    h.clock.set(market_time(WEDNESDAY, 14) + timedelta(days=1))
    assert await rereport_recent(h.handlers) == 1
    h.clock.set(market_time(WEDNESDAY, 14) + timedelta(days=2))
    assert await rereport_recent(h.handlers) == 0
    assert len(h.completed(events.run_id)) == 2
