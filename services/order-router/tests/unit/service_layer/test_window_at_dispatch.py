"""The execution window at dispatch: orders leave only while it is open, whenever the run was
stored. A run that sent nothing goes back to the queue for the next opening (run.execution_queued
again); a started run ends at the close (test_window_close.py). ALWAYS_OPEN changes nothing.
A calendar that cannot say when the window opens queues the run without a start time (visible,
cancelable) instead of losing it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta, tzinfo

import structlog

from rebal_order_router.domain import ExecutionWindow, OrderStatus
from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.execution_events import execution_event_id
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.queue import QueueDrain
from rebal_runtime.calendar import CalendarOutOfRangeError
from rebal_runtime.testing.calendars import nyse_2026
from rebal_schemas import RunExecutionQueued, RunExecutionStarted

from .conftest import NEW_YORK, NIGHT, OPENING
from .test_cancel_requests import cancel_request, stops

BEFORE_CLOSE = datetime(2026, 3, 10, 15, 29, tzinfo=NEW_YORK)
CLOSE = datetime(2026, 3, 10, 15, 30, tzinfo=NEW_YORK)
NEXT_OPENING = datetime(2026, 3, 11, 9, 30, tzinfo=NEW_YORK)


def queued(events: list) -> list[RunExecutionQueued]:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, RunExecutionQueued)]


def started(events: list) -> list[RunExecutionStarted]:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, RunExecutionStarted)]


async def coid_of(ctx, symbol: str, run_id: str = "opt-1") -> str:  # type: ignore[no-untyped-def]
    stored = await ctx.runs.get(run_id)
    assert stored is not None
    return next(o.client_order_id for o in stored.run.orders if o.symbol == symbol)


async def run_pending_round(dispatcher: Dispatcher) -> None:
    """One polling round of the dispatcher, waiting for the run tasks it starts."""
    await dispatcher.dispatch_pending()
    await asyncio.gather(*list(dispatcher._runs.values()))


async def test_a_run_stored_inside_the_window_but_not_sent_by_the_close_is_queued_again(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    clock.set(CLOSE - timedelta(seconds=1))
    await on_optimization_ready(window_ctx, make_ready())  # inside: not queued
    assert queued(outbox()) == []

    clock.set(CLOSE)  # the dispatcher comes to it at the close (a backlog, a restart)
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True

    assert broker.calls == []
    (event,) = queued(outbox())
    assert event.starts_at == NEXT_OPENING.astimezone(UTC)
    assert event.occurred_at == CLOSE.astimezone(UTC)
    assert event.event_id == execution_event_id("opt-1", "queued")
    assert await window_ctx.runs.queued_runs() == ["opt-1"]
    assert await window_ctx.runs.runs_needing_dispatch() == []

    clock.set(NEXT_OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 1
    await Dispatcher(window_ctx).dispatch_run("opt-1")
    assert len(broker.submits()) == 2
    assert [e.started_at for e in started(outbox())] == [NEXT_OPENING.astimezone(UTC)]


async def test_a_released_run_not_sent_before_the_close_is_queued_again(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    await on_optimization_ready(window_ctx, make_ready())  # 02:00: queued
    clock.set(OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 1  # released; the router then went down

    clock.set(CLOSE + timedelta(minutes=40))  # restarted after the close
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True

    assert broker.calls == []
    first, again = queued(outbox())
    assert first.event_id == execution_event_id("opt-1", "queued")
    assert again.event_id != first.event_id  # a new fact, not a duplicate to drop
    assert again.starts_at == NEXT_OPENING.astimezone(UTC)
    assert await window_ctx.runs.queued_runs() == ["opt-1"]

    clock.set(NEXT_OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 1
    await Dispatcher(window_ctx).dispatch_run("opt-1")
    assert len(broker.submits()) == 2


async def test_a_submit_retried_within_one_attempt_stops_at_the_close(
    window_ctx, broker, clock, make_ready
) -> None:
    clock.set(CLOSE - timedelta(seconds=1))
    await on_optimization_ready(window_ctx, make_ready(orders=((1, "AAPL", "sell", "5"),)))
    submit = broker.submit_order

    async def times_out_across_the_close(*args, **kwargs):  # type: ignore[no-untyped-def]
        broker.submit_order = submit
        clock.set(CLOSE + timedelta(seconds=1))
        broker.down = 1  # this one never reaches the broker
        return await submit(*args, **kwargs)

    broker.submit_order = times_out_across_the_close
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is False

    sell = await coid_of(window_ctx, "AAPL")
    assert [c for c in broker.calls if c[1] == sell] == [("submit", sell), ("lookup", sell)]
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.orders[0].status is OrderStatus.PENDING_SUBMIT


async def test_always_open_sends_at_any_hour(ctx, broker, clock, make_ready) -> None:
    clock.set(datetime(2026, 3, 14, 23, 0, tzinfo=NEW_YORK))  # a Saturday night
    await on_optimization_ready(ctx, make_ready())
    assert await Dispatcher(ctx).dispatch_run("opt-1") is True
    assert len(broker.submits()) == 2


class ThroughTuesday:
    """NYSE 2026 with data up to Tuesday 2026-03-10 only (a calendar past its data)."""

    def __init__(self) -> None:
        self.nyse = nyse_2026()

    @property
    def timezone(self) -> tzinfo:
        return self.nyse.timezone

    def _check(self, day: date) -> None:
        if day > date(2026, 3, 10):
            raise CalendarOutOfRangeError(f"{day} is outside the calendar's data")

    def is_session(self, day: date) -> bool:
        self._check(day)
        return self.nyse.is_session(day)

    def session_open_close(self, day: date) -> tuple[datetime, datetime]:
        self._check(day)
        return self.nyse.session_open_close(day)

    def next_session(self, day: date) -> date:
        following = self.nyse.next_session(day)
        self._check(following)
        return following


async def test_a_ready_run_without_a_known_opening_is_queued_without_a_start_time(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    """The window never opens within the sessions searched (17:00-18:00 after a 16:00 close):
    the run is stored QUEUED with the error logged, never lost; a cancel still stops it."""
    window_ctx.window = ExecutionWindow(nyse_2026(), opens=time(17), closes=time(18))
    with structlog.testing.capture_logs() as logs:
        assert await on_optimization_ready(window_ctx, make_ready()) is True

    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.start.waiting
    assert stored.run.start.starts_at is None
    assert queued(outbox()) == []  # run.execution_queued needs a start time: none is invented
    assert await window_ctx.runs.queued_runs() == ["opt-1"]
    (error,) = [entry for entry in logs if entry["log_level"] == "error"]
    assert error["run_id"] == "opt-1" and "no execution window" in error["error"]
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True
    assert broker.calls == []

    assert await on_cancel_requested(window_ctx, cancel_request()) is True
    assert stops(outbox()) == [("opt-1", "canceled", "cancel-1")]


async def test_a_queued_run_without_a_start_time_starts_once_the_window_is_known_open(
    window_ctx, broker, clock, make_ready
) -> None:
    window_ctx.window = ExecutionWindow(ThroughTuesday())
    clock.set(CLOSE + timedelta(hours=1))  # the next opening is past the calendar's data
    await on_optimization_ready(window_ctx, make_ready())
    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.start.waiting and stored.run.start.starts_at is None

    window_ctx.window = ExecutionWindow(nyse_2026())  # the calendar's data is there again
    clock.set(NEXT_OPENING)
    assert await QueueDrain(window_ctx).drain_once() == 1
    await Dispatcher(window_ctx).dispatch_run("opt-1")
    assert len(broker.submits()) == 2


async def test_a_run_queued_again_without_a_known_opening_stays_visible(
    window_ctx, broker, clock, make_ready, outbox
) -> None:
    window_ctx.window = ExecutionWindow(ThroughTuesday())
    clock.set(CLOSE - timedelta(seconds=1))
    await on_optimization_ready(window_ctx, make_ready())
    clock.set(CLOSE)

    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True

    stored = await window_ctx.runs.get("opt-1")
    assert stored is not None and stored.run.start.waiting and stored.run.start.starts_at is None
    assert queued(outbox()) == [] and broker.calls == []
    assert await window_ctx.runs.queued_runs() == ["opt-1"]


async def test_the_night_stays_quiet(window_ctx, broker, clock, make_ready) -> None:
    """Sanity: the queued path of the nightly batch is unchanged by the dispatch check."""
    clock.set(NIGHT)
    await on_optimization_ready(window_ctx, make_ready())
    assert await Dispatcher(window_ctx).dispatch_run("opt-1") is True
    assert broker.calls == []
