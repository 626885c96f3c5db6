"""The aggregate the handlers store per run, and the repository port they store it through.

A run's document holds more than the domain `Run`: the dead letters prepared for early facts
(published if the plan refuses them) and the run.completed it published (to publish the same
event again if the broker loses it, `rereport.py`). `adapters/run_document.py` maps it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rebal_runtime.repository import Repository
from rebal_settlement_tracker.domain import Run

SETTLE_DUE_INDEX = "settle_due"  # ISO date of the run's earliest pending settlement, or None
COMPLETED_DAY_INDEX = "completed_day"  # UTC ISO date the run completed on, or None

Letters = dict[str, dict[str, Any]]
"""Event id -> dead letter of an early fact, kept until the plan judges it."""


@dataclass(frozen=True)
class RunRecord:
    run: Run
    letters: Letters = field(default_factory=dict)
    # the run.completed it published: event_id, causation_id, completed_at, completed_day
    report: dict[str, Any] | None = None


RunRepository = Repository[RunRecord]
