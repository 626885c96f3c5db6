"""Cancels read before their run's plan: run.cancel_requested and optimization.ready are on
different topics with no order between them, so after a backlog of readies or a restart the
tracker can read a cancel of a run whose plan it has not read yet. Refusing it RUN_UNKNOWN would
be wrong: the order-router keeps such a cancel and cancels the run when its ready arrives, and the
client would get both a refusal and a canceled run. So the cancel is kept on the run
(`Run.kept_cancels`) and applied when the plan arrives (`apply_kept_cancels`), as if it had been
read just after it: a PLATFORM run records it for the router (whose stop names it), a CLIENT run
is canceled at once.

Kept for a bounded time and number: a cancel of a run that never comes (another service's id, a
typo) is refused RUN_UNKNOWN once its wait (`SettlementPolicy.cancel_wait`, as long as the
router's) is over, by the sweep (`expire_kept_cancels`), and at most `MAX_KEPT_CANCELS` wait for
one run (a further one is refused at once), so that its document stays small.

A kept cancel names a portfolio the plan has not confirmed: it says nothing of whose run it is
(`claimed_by`), and one naming another portfolio than the plan's is not applied; it waits out its
time and is refused then, as unmatched.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from rebal_settlement_tracker.domain import execution
from rebal_settlement_tracker.domain.acceptance import PLATFORM
from rebal_settlement_tracker.domain.errors import (
    CancelOfUnknownRun,
    DuplicateCancel,
    DuplicateStatus,
    IllegalTransition,
)
from rebal_settlement_tracker.domain.stop import RunStop, StopKind
from rebal_settlement_tracker.domain.transaction import require_aware

if TYPE_CHECKING:
    from rebal_settlement_tracker.domain.run import Run

MAX_KEPT_CANCELS: Final = 10
"""Per run. A second request for a run is rare (the API refuses one while the first is pending);
this only stops a flood of cancels of one unknown run from growing its document."""


@dataclass(frozen=True)
class KeptCancel:
    request_id: str  # the run.cancel_requested's event id: the cause its answer names
    portfolio_id: str  # as the request says: checked against the plan's
    reason: str
    recorded_at: datetime  # when the tracker read it: what its wait counts from

    def __post_init__(self) -> None:
        require_aware(self.recorded_at, "recorded_at")

    def due(self, wait: timedelta) -> datetime:
        """When it is refused unless its run arrived."""
        return self.recorded_at + wait


def keep_cancel(run: Run, cancel: KeptCancel) -> Run:
    """`cancel` kept until the plan. DuplicateCancel when it is kept already (a redelivery);
    CancelOfUnknownRun when `MAX_KEPT_CANCELS` wait already (refused at once)."""
    if run.is_planned:
        raise IllegalTransition(f"run {run.run_id} is planned: its cancels apply at once")
    if any(kept.request_id == cancel.request_id for kept in run.kept_cancels):
        raise DuplicateCancel(f"run {run.run_id}: cancel {cancel.request_id} already kept")
    if len(run.kept_cancels) >= MAX_KEPT_CANCELS:
        raise CancelOfUnknownRun(
            f"no run {run.run_id} for portfolio {cancel.portfolio_id} "
            f"({len(run.kept_cancels)} cancels already wait for it)"
        )
    return replace(run, kept_cancels=(*run.kept_cancels, cancel))


def apply_kept_cancels(run: Run, now: datetime) -> Run:
    """The just planned run with its kept cancels applied, in the order they were read, each as
    a cancel read now would be: the first naming the run's portfolio is recorded (PLATFORM: the
    order-router stops the run) or ends the run (CLIENT, at `now`); a later one is a second
    request, a no-op as it would be now. Those naming another portfolio stay kept (refused when
    their wait is over)."""
    if not run.is_planned or not run.kept_cancels:
        return run
    unmatched: list[KeptCancel] = []
    for kept in sorted(run.kept_cancels, key=lambda c: (c.recorded_at, c.request_id)):
        if kept.portfolio_id != run.portfolio_id:
            unmatched.append(kept)
            continue
        try:
            requested = execution.cancel_requested(
                run, kept.portfolio_id, kept.recorded_at, kept.request_id
            )
        except DuplicateCancel:
            continue
        if run.terms.broker_integration == PLATFORM:
            run = requested
        else:
            stop = RunStop(StopKind.CANCELED, now, kept.reason, kept.request_id)
            run = execution.canceled(requested, stop)
    return replace(run, kept_cancels=tuple(unmatched))


def expire_kept_cancels(
    run: Run, now: datetime, wait: timedelta
) -> tuple[Run, tuple[KeptCancel, ...]]:
    """The run without its kept cancels whose wait is over at `now`, and those (to refuse).
    DuplicateStatus when none is (the sweep's index was behind the document)."""
    expired = tuple(kept for kept in run.kept_cancels if kept.due(wait) <= now)
    if not expired:
        raise DuplicateStatus(f"run {run.run_id}: no kept cancel is due")
    left = tuple(kept for kept in run.kept_cancels if kept not in expired)
    return replace(run, kept_cancels=left), expired


def kept_cancels_due(run: Run, wait: timedelta) -> datetime | None:
    """When the sweep must look at the run's kept cancels next (None: it keeps none)."""
    return min((kept.due(wait) for kept in run.kept_cancels), default=None)


def claimed_by(run: Run, portfolio_id: str) -> Run:
    """The run as `portfolio_id`'s if nothing on it but kept cancels says whose it is: a cancel
    naming a wrong portfolio must not make the run's own plan and facts look foreign."""
    if run.portfolio_id == portfolio_id:
        return run
    bare = replace(run, kept_cancels=())
    if bare != type(run)(run.run_id, run.portfolio_id):
        return run
    return replace(run, portfolio_id=portfolio_id)
