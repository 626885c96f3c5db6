"""Optimizations in the read model: every evaluation with its decision record (pure).

`optimization.created` gives the whole optimization (recommended or not, its reasons and the
condition evaluations of its decision record); `optimization.status_changed` its later steps
(READY, REJECTED, SUPERSEDED, EXPIRED, with the owner's choice). Both are on one topic with one
key, so they come in order. The owner's choice the api sent (`optimization.decided`) shows as
`choice_requested` until the optimizer answers: a status change, or a `request.rejected`
(`choice_refused`, with its reason).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from rebal_api.domain.ids import newest_first
from rebal_api.domain.views import PlannedView, SkippedView, WeightView


@dataclass(frozen=True)
class EvaluationView:
    """One line of the decision record: what was checked, its value, and whether it was met."""

    name: str
    met: bool
    value: str | None = None
    threshold: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class ReasonView:
    code: str
    detail: str = ""


@dataclass(frozen=True)
class OptimizationView:
    optimization_id: str
    portfolio_id: str
    account_id: str
    status: str
    is_recommended: bool
    run_type: str
    trigger: str
    initiated_from: str
    source: str
    mandate: str
    broker_integration: str
    created_at: datetime
    updated_at: datetime
    weights: tuple[WeightView, ...] = ()
    orders: tuple[PlannedView, ...] = ()
    skipped_orders: tuple[SkippedView, ...] = ()
    decision: tuple[EvaluationView, ...] = ()
    reasons: tuple[ReasonView, ...] = ()
    amount: Decimal | None = None
    shortfall: Decimal | None = None
    expires_at: datetime | None = None
    owner_choice: str | None = None
    detail: str = ""
    choice_requested: str | None = None
    choice_refused: str | None = None

    @property
    def key(self) -> str:
        """Its document id: a portfolio's optimizations in id order are newest first."""
        return newest_first(self.created_at, self.optimization_id)

    @property
    def awaiting_owner(self) -> bool:
        return self.status == "AWAITING_OWNER"


def created(current: OptimizationView | None, view: OptimizationView) -> OptimizationView | None:
    """optimization.created; a repeat of one already known keeps what happened since."""
    if current is None:
        return view
    return None


def status_changed(
    current: OptimizationView | None,
    status: str,
    owner_choice: str | None,
    detail: str,
    at: datetime,
) -> OptimizationView | None:
    if current is None or (current.status == status and current.owner_choice == owner_choice):
        return None
    return replace(
        current,
        status=status,
        owner_choice=owner_choice or current.owner_choice,
        detail=detail or current.detail,
        updated_at=max(current.updated_at, at),
        choice_requested=None,
    )


def choice_requested(
    current: OptimizationView | None, choice: str, at: datetime
) -> OptimizationView | None:
    """The api sent the owner's choice (`optimization.decided`); the optimizer answers it."""
    if current is None:
        return None
    return replace(current, choice_requested=choice, choice_refused=None, updated_at=at)


def choice_refused(
    current: OptimizationView | None, message: str, at: datetime
) -> OptimizationView | None:
    if current is None or current.choice_requested is None:
        return None
    return replace(current, choice_requested=None, choice_refused=message[:1024], updated_at=at)
