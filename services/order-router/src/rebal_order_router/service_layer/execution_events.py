"""A run's execution start -> the `run.execution` events of rebal_schemas (to the
settlement-tracker): `run.execution_queued`, `run.execution_started`, `run.execution_stopped`.

Each is published at most once per run and its event id is derived from the run id and the kind
(`event_id_for(run_id, "execution:<kind>")`), so the same moment derived again (a retried
commit, a re-report after the broker lost records) carries the same id and consumers drop it.
The one exception is a run that queues again (the window closed before its first order left):
each later queuing is a new fact, `queued.<n>`, not a duplicate of the first. A run queued
without a start time (the calendar cannot say when the window opens) publishes no
run.execution_queued, whose `starts_at` is required: none is invented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rebal_order_router.domain import StoredRun
from rebal_order_router.service_layer.publishing import event_id_for, run_envelope
from rebal_schemas import Event, RunExecutionQueued, RunExecutionStarted, RunExecutionStopped

QUEUED, STARTED, STOPPED = "queued", "started", "stopped"


def execution_event_id(run_id: str, kind: str) -> str:
    return event_id_for(run_id, f"execution:{kind}")


def _envelope(stored: StoredRun, kind: str, producer: str, recorded_at: datetime) -> dict[str, Any]:
    event_id = execution_event_id(stored.run.run_id, kind)
    return run_envelope(stored, event_id, producer, recorded_at)


def queued_events(stored: StoredRun, producer: str, recorded_at: datetime) -> list[Event]:
    """The run.execution_queued of the run's last queuing; none without a start time."""
    start = stored.run.start
    assert start.queued_at is not None
    if start.starts_at is None:
        return []
    kind = QUEUED if start.requeued == 0 else f"{QUEUED}.{start.requeued}"
    queued = RunExecutionQueued(
        occurred_at=start.queued_at,
        starts_at=start.starts_at,
        **_envelope(stored, kind, producer, recorded_at),
    )
    return [queued]


def started_event(stored: StoredRun, producer: str, recorded_at: datetime) -> Event:
    started_at = stored.run.start.started_at
    assert started_at is not None
    return RunExecutionStarted(
        occurred_at=started_at,
        started_at=started_at,
        **_envelope(stored, STARTED, producer, recorded_at),
    )


def stopped_event(stored: StoredRun, producer: str, recorded_at: datetime) -> Event:
    start = stored.run.start
    assert start.stop is not None
    assert start.stopped_at is not None
    envelope = _envelope(stored, STOPPED, producer, recorded_at)
    if start.stop_cause:
        envelope["causation_id"] = start.stop_cause
    return RunExecutionStopped(
        occurred_at=start.stopped_at,
        outcome=start.stop.value,
        reason=start.stop_reason[:1024],
        stopped_at=start.stopped_at,
        **envelope,
    )


def mark_started(stored: StoredRun, producer: str, now: datetime) -> tuple[StoredRun, list[Event]]:
    """The run with its start recorded and the run.execution_started to publish with it; the
    run unchanged (and nothing to publish) when it started before or cannot start (waiting,
    stopped before any order left).

    Called in the commit that records the broker's first answer about one of its orders (the
    first order has left), or in the commit of a cancel that comes before any answer, so the
    dispatcher's commit that marks intents as being sent carries no event: a process killed
    while its orders are in flight leaves nothing in the run's outbox for the instance that
    takes the run over to wait behind."""
    start = stored.run.start
    if start.started_at is not None or start.waiting or start.stopped_before_start:
        return stored, []
    started = StoredRun(stored.run.with_start(start.mark_started(now)), stored.meta)
    return started, [started_event(started, producer, now)]


def current_execution_events(
    stored: StoredRun, producer: str, recorded_at: datetime
) -> list[Event]:
    """Every run.execution event the run's state says was published, derived again."""
    start = stored.run.start
    events: list[Event] = []
    if start.queued_at is not None:  # the last queuing: an earlier one's start is not kept
        events.extend(queued_events(stored, producer, recorded_at))
    if start.started_at is not None:
        events.append(started_event(stored, producer, recorded_at))
    if start.stop is not None:
        events.append(stopped_event(stored, producer, recorded_at))
    return events
