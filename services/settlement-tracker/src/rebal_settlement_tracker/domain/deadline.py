"""When a run times out: its orders' outcomes must all be known `run_timeout` after its execution
started (docs/design.md §3 "Runs", TIMEOUT).

A PLATFORM run's clock starts when it reaches IN_PROGRESS (the order-router started it, or its
first order event arrived): time spent QUEUED, waiting for the execution window, does not count.
A CLIENT run has no start signal (the client's middleware executes it): its clock starts at its
creation. A run that ended, or has no plan yet, has no deadline. The periodic sweep finds the runs
whose deadline passed (`Progress.deadline`, indexed) and times them out (`Run.time_out`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rebal_settlement_tracker.domain.acceptance import PLATFORM
from rebal_settlement_tracker.domain.errors import DuplicateStatus
from rebal_settlement_tracker.domain.lifecycle import RunStatus
from rebal_settlement_tracker.domain.run import Run


def deadline(run: Run, timeout: timedelta) -> datetime | None:
    """The moment the run times out unless every order is final by then (None: no deadline)."""
    lifecycle = run.lifecycle
    if not run.is_planned or run.is_completed:
        return None
    if run.terms.broker_integration != PLATFORM:
        start = lifecycle.created_at
    elif lifecycle.status is RunStatus.IN_PROGRESS:
        start = lifecycle.updated_at  # its last change: the move to IN_PROGRESS
    else:
        return None
    return None if start is None else start + timeout


def time_out_if_due(run: Run, now: datetime, timeout: timedelta) -> Run:
    """The run timed out at `now`; DuplicateStatus when it has no deadline or it is not due."""
    due = deadline(run, timeout)
    if due is None or now < due:
        raise DuplicateStatus(f"run {run.run_id}: no deadline passed (due {due})")
    return run.time_out(now)
