"""A run's status as Alpaca publishes it: the transition table and `RunLifecycle.apply`.

    (not created) -> QUEUED          its plan is known (optimization.ready)
    QUEUED        -> IN_PROGRESS     its execution started: the first order event accepted for it,
                                     or the order-router saying so (`Run.start_execution`)
    IN_PROGRESS   -> COMPLETED_SUCCESS | COMPLETED_ADJUSTED | ERROR | CANCELED | CANCELED_MID_RUN
                     | TIMEOUT       every order is final (`completion.decide_status` names which),
                                     or the run was stopped (`stop.py`)
    QUEUED        -> COMPLETED_SUCCESS | COMPLETED_ADJUSTED | CANCELED | TIMEOUT
                                     a run without orders never starts; one canceled (or
                                     re-planned) before it did; a CLIENT run whose middleware
                                     never reported by its deadline

Each status is reached once: asking for the status a run is in, or for one it is already past (an
"execution started" after the run completed), is a `DuplicateStatus`, a no-op for callers. Any
other move absent from the table is an `IllegalTransition`. After its final status the run is
*settled* once (`mark_settled`) when every transaction is final; that is no status of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from rebal_settlement_tracker.domain.errors import DuplicateStatus, IllegalTransition


class RunStatus(StrEnum):
    """Alpaca run statuses."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED_SUCCESS = "COMPLETED_SUCCESS"
    COMPLETED_ADJUSTED = "COMPLETED_ADJUSTED"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    CANCELED_MID_RUN = "CANCELED_MID_RUN"
    TIMEOUT = "TIMEOUT"

    @property
    def is_final(self) -> bool:
        return self not in (RunStatus.QUEUED, RunStatus.IN_PROGRESS)


_R = RunStatus
FINAL_STATUSES: Final = frozenset(status for status in RunStatus if status.is_final)

#: current status (None: not created yet) -> the statuses it may move to.
RUN_TRANSITIONS: Final = MappingProxyType(
    {
        None: frozenset({_R.QUEUED}),
        _R.QUEUED: frozenset(
            {_R.IN_PROGRESS, _R.COMPLETED_SUCCESS, _R.COMPLETED_ADJUSTED, _R.CANCELED, _R.TIMEOUT}
        ),
        _R.IN_PROGRESS: FINAL_STATUSES,
        **{status: frozenset[RunStatus]() for status in FINAL_STATUSES},
    }
)

_STAGE: Final = {_R.QUEUED: 0, _R.IN_PROGRESS: 1, **{status: 2 for status in FINAL_STATUSES}}


@dataclass(frozen=True)
class StatusChange:
    """One published status change (`previous` None: the run was created)."""

    previous: RunStatus | None
    status: RunStatus
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class RunLifecycle:
    """Where the run's state machine is, and when it got there. Immutable."""

    status: RunStatus | None = None  # None until the run is created (its plan is known)
    created_at: datetime | None = None  # the plan's time (optimization.ready's occurred_at)
    updated_at: datetime | None = None  # the last status change
    completed_at: datetime | None = None  # the final status (run.completed)
    reason: str | None = None  # why the final status is what it is (adjusted, error, canceled...)
    settled_at: datetime | None = None  # every transaction final (run.settled)
    # the legs whose settlement was known at completion: what run.completed said, to say it again
    settled_when_completed: frozenset[int] = frozenset()

    @property
    def is_final(self) -> bool:
        return self.status is not None and self.status.is_final

    def apply(
        self, target: RunStatus, at: datetime, reason: str | None = None
    ) -> tuple[RunLifecycle, StatusChange]:
        """Move to `target`; DuplicateStatus when the run is there or past it already."""
        current = self.status
        if current is not None and (target is current or _STAGE[target] < _STAGE[current]):
            raise DuplicateStatus(f"run is {current}; {target} already reached or passed")
        if target not in RUN_TRANSITIONS[current]:
            raise IllegalTransition(f"a run cannot move from {current} to {target}")
        created = self.created_at if self.created_at is not None else at
        moved = replace(self, status=target, created_at=created, updated_at=at)
        if target.is_final:
            moved = replace(moved, completed_at=at, reason=reason)
        return moved, StatusChange(current, target, at, reason if target.is_final else None)

    def mark_settled(self, at: datetime) -> RunLifecycle:
        if not self.is_final:
            raise IllegalTransition(f"a run in {self.status} cannot settle")
        if self.settled_at is not None:
            raise DuplicateStatus("run already settled")
        return replace(self, settled_at=at)
