"""After the broker lost records, recently completed and settled runs say run.completed and
run.settled again, identically."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rebal_runtime.clock import FakeClock
from rebal_settlement_tracker.service_layer.rereport import rereport_recent

from .test_handlers import THURSDAY, WEDNESDAY, fill_all, market_time

NEW_YORK = ZoneInfo("America/New_York")


def same_but_recorded(again, first) -> bool:  # type: ignore[no-untyped-def]
    """The same event id, cause, content and time; only recorded_at is when it was said."""
    return bool(again.model_copy(update={"recorded_at": first.recorded_at}) == first)


async def test_a_done_run_publishes_the_same_run_completed_and_run_settled_again(
    harness, run_events
) -> None:
    h = harness(market_time(WEDNESDAY, 14), cycle_days=0)
    done, open_run = run_events(), run_events()
    await h.handle(done.ready())
    for fill in fill_all(done, WEDNESDAY):
        await h.handle(fill)
    await h.handle(open_run.ready())  # planned, nothing executed: nothing to say again
    [first], [first_settled] = h.completed(done.run_id), h.run_settled(done.run_id)

    h.clock.set(market_time(WEDNESDAY, 20))
    assert await rereport_recent(h.handlers, "test") == 2

    again, settled_again = h.completed(done.run_id), h.run_settled(done.run_id)
    assert len(again) == len(settled_again) == 2
    assert same_but_recorded(again[1], first)
    assert same_but_recorded(settled_again[1], first_settled)
    assert h.completed(open_run.run_id) == [] and h.run_settled(open_run.run_id) == []
    assert len(h.statuses(done.run_id)) == 3  # status changes are not said again
    assert (await h.run(done.run_id)).is_completed  # the state did not move


async def test_only_what_was_said_today_or_yesterday_is_said_again(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 14))
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)  # completed on Wednesday (executed)
    [first] = h.completed(events.run_id)
    h.clock.set(market_time(THURSDAY, 14))
    await h.handlers.settle_due()  # settled on Thursday (T+1)
    assert len(h.run_settled(events.run_id)) == 1

    assert await rereport_recent(h.handlers) == 2  # completed yesterday, settled today
    # said again as it was said: executed, not the settlement that came after it
    assert same_but_recorded(h.completed(events.run_id)[1], first)
    h.clock.set(market_time(THURSDAY, 14) + timedelta(days=1))
    assert await rereport_recent(h.handlers) == 1  # run.settled of yesterday
    h.clock.set(market_time(THURSDAY, 14) + timedelta(days=2))
    assert await rereport_recent(h.handlers) == 0
    assert len(h.completed(events.run_id)) == 2 and len(h.run_settled(events.run_id)) == 3


class NewYorkClock(FakeClock):
    """A clock that tells the time in New York, not UTC (any aware datetime is a valid `now`)."""

    def now(self) -> datetime:
        return super().now().astimezone(NEW_YORK)


async def test_what_was_said_is_found_by_its_utc_day_whatever_the_clock_zone(
    harness, run_events
) -> None:
    # 22:00 in New York on Wednesday is 03:00 UTC on Thursday: run.completed is indexed on
    # Thursday (UTC), which the re-report must look up even though the clock says Wednesday
    evening = datetime(2026, 3, 4, 22, tzinfo=NEW_YORK)
    h = harness(evening, cycle_days=0)
    h.handlers.clock = NewYorkClock(evening)
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    [first] = h.completed(events.run_id)
    assert first.completed_at.astimezone(UTC).date() == THURSDAY

    assert await rereport_recent(h.handlers) == 2
    assert same_but_recorded(h.completed(events.run_id)[1], first)
