"""The aggregates the handlers store, and the repository ports they store them through.

A run's document holds more than the domain `Run`: the dead letters prepared for early facts
(published if the plan refuses them) and how it published run.completed and run.settled (to
publish the same events again if the broker loses them, `rereport.py`). A cancel request for a
run that does not exist is answered from a document of its own (`Refusal`), so that the answer
is published exactly once without creating a run. `adapters/run_document.py` maps both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rebal_runtime.repository import Repository
from rebal_settlement_tracker.domain import Run

SETTLE_DUE_INDEX = "settle_due"  # ISO date of the run's earliest pending settlement, or None
COMPLETED_DAY_INDEX = "completed_day"  # UTC ISO date the run completed on, or None
SETTLED_DAY_INDEX = "settled_day"  # UTC ISO date the run settled on, or None
TIMEOUT_DUE_INDEX = "timeout_due"  # the run's deadline (`instant_key`), or None once it ended
KEPT_CANCEL_DUE_INDEX = "kept_cancel_due"  # when a cancel kept for it is refused (`instant_key`)


def instant_key(moment: datetime) -> str:
    """An instant as an index value that sorts as the instants do (UTC, fixed width)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Letters = dict[str, dict[str, Any]]
"""Event id -> dead letter of an early fact, kept until the plan judges it."""

Reports = dict[str, dict[str, Any]]
"""Event type (run.completed, run.settled) -> how it was published: `event_id`, `causation_id`,
`at` (ISO instant)."""


@dataclass(frozen=True)
class RunRecord:
    run: Run
    letters: Letters = field(default_factory=dict)
    reports: Reports = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """A request refused without a run to record it on (a cancel of an unknown run)."""

    request_event_id: str
    run_id: str
    portfolio_id: str
    reason_code: str


RunRepository = Repository[RunRecord]
RefusalRepository = Repository[Refusal]
