"""Runs in the read model: rebal's run events merged into Alpaca's run object (pure).

Events about one run arrive on several topics (optimization.created / .ready from the
optimizer, run.status_changed / .completed / .settled and transaction.settled from the
settlement-tracker), in any order across topics. The merge is order-tolerant: a final status is
never replaced by a non-final one, is shown only with run.completed's report of the orders,
fields only fill in, and `updated_at` only moves forward.

A run's Alpaca id: for a run the api asked for (`initiated_from: api`, its request's event id a
ULID) the request's ULID as a UUID, learnt from the optimizer's events (they name the request in
`causation_id`); every other run's id is derived from its rebal id at first sight
(`ids.to_uuid`). Until an `api` run's id is known it is kept but not shown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from rebal_api.domain.alpaca import request_json, run_json, ts
from rebal_api.domain.ids import to_uuid, ulid_uuid
from rebal_api.domain.views import (
    FINAL_STATUSES,
    LegView,
    OrderView,
    PlannedView,
    RunRequest,
    RunView,
    SkippedView,
    StreamEntry,
    WeightView,
)

REQUESTED_HERE = frozenset({"api", "dashboard"})
"""The `initiated_from` of runs the api may have asked for: `POST /runs` (api) and its `/ui`
(dashboard)."""


def run_uuid(run_id: str, initiated_from: str, cause: str | None) -> str | None:
    """The Alpaca id of rebal's run `run_id`; None when it cannot be known from this event
    (an `api` run seen without the optimizer's event naming its request). A `dashboard` run has
    the derived id here; the projection gives it its request's when the api asked for it."""
    if initiated_from != "api":
        return to_uuid("run", run_id)
    if cause is None:
        return None
    return ulid_uuid(cause) or to_uuid("run", run_id)


@dataclass(frozen=True)
class RunFacts:
    """What one event says about a run; None: the event does not say."""

    run_id: str
    portfolio_id: str
    account_id: str
    at: datetime
    type: str | None = None
    initiated_from: str | None = None
    uuid: str | None = None
    status: str | None = None
    amount: Decimal | None = None
    reason: str | None = None
    weights: tuple[WeightView, ...] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    settled_at: datetime | None = None
    orders: tuple[OrderView, ...] | None = None
    failed_orders: tuple[OrderView, ...] | None = None
    skipped_orders: tuple[SkippedView, ...] | None = None
    planned: tuple[PlannedView, ...] | None = None
    legs: tuple[LegView, ...] = ()


def merged_legs(current: tuple[LegView, ...], news: tuple[LegView, ...]) -> tuple[LegView, ...]:
    """Each leg's latest status (SETTLED stays), its dates filled in as they come."""
    by_leg = {state.leg: state for state in current}
    for new in news:
        old = by_leg.get(new.leg)
        if old is None:
            by_leg[new.leg] = new
            continue
        by_leg[new.leg] = LegView(
            new.leg,
            old.status if old.status == "SETTLED" else new.status,
            old.trade_date or new.trade_date,
            old.settlement_date or new.settlement_date,
            old.settled_at or new.settled_at,
        )
    return tuple(sorted(by_leg.values(), key=lambda state: state.leg))


def _merged_status(current: str, new: str | None) -> str:
    if new is None or (current in FINAL_STATUSES and new not in FINAL_STATUSES):
        return current
    return new


def _later(a: datetime, b: datetime | None) -> datetime:
    return a if b is None or a >= b else b


def _entry(run: RunView, kind: str, previous: str | None, stream_id: str) -> StreamEntry:
    return StreamEntry(
        stream_id,
        {
            "event_id": stream_id,
            "event_type": kind,
            "at": ts(run.updated_at),
            "run": run_json(run, orders=False, sdk_safe=False),
            "previous_status": previous,
        },
    )


def run_changed(
    current: RunView | None,
    facts: RunFacts,
    *,
    model_id: str | None,
    announced: bool,
    stream_id: str,
) -> RunView:
    """`current` with what `facts` says. `model_id`: the model the account follows (the run's
    Alpaca `portfolio_id`), used for a run seen the first time; `announced`: the stream already
    told the run's creation (the api's `POST /runs` did)."""
    reported = (current is not None and current.reported) or facts.orders is not None
    if facts.status in FINAL_STATUSES and not reported:
        # The settlement-tracker writes a final run.status_changed (and run.settled) with
        # run.completed, but on other topics: until the report is read the run keeps its open
        # status, so nobody reads a final run without its orders.
        facts = replace(facts, status=None, reason=None, completed_at=None, canceled_at=None)
    base = current or RunView(
        run_id=facts.run_id,
        uuid=None,
        portfolio_id=facts.portfolio_id,
        account_id=facts.account_id,
        model_id=model_id,
        type=facts.type or "",
        initiated_from=facts.initiated_from or "",
        status="QUEUED",
        created_at=facts.created_at or facts.at,
        updated_at=facts.updated_at or facts.at,
    )
    run = replace(
        base,
        uuid=base.uuid or facts.uuid,
        type=base.type or facts.type or "",
        initiated_from=base.initiated_from or facts.initiated_from or "",
        status=_merged_status(base.status, facts.status),
        updated_at=_later(base.updated_at, facts.updated_at or facts.at),
        created_at=min(base.created_at, facts.created_at or base.created_at),
        amount=facts.amount if facts.amount is not None else base.amount,
        reason=facts.reason or base.reason,
        weights=facts.weights or base.weights,
        completed_at=base.completed_at or facts.completed_at,
        canceled_at=base.canceled_at or facts.canceled_at,
        settled_at=base.settled_at or facts.settled_at,
        orders=facts.orders if facts.orders is not None else base.orders,
        failed_orders=facts.failed_orders
        if facts.failed_orders is not None
        else base.failed_orders,
        skipped_orders=(
            facts.skipped_orders if facts.skipped_orders is not None else base.skipped_orders
        ),
        planned=facts.planned if facts.planned is not None else base.planned,
        legs=merged_legs(base.legs, facts.legs),
        stream=(),
        reported=reported,
    )
    if not run.shown:
        return run
    shown_before = current is not None and current.shown
    if not shown_before and not announced:
        return replace(run, stream=(_entry(run, "run.created", None, stream_id),))
    previous = base.status if shown_before else "QUEUED"
    if run.status != previous:
        return replace(run, stream=(_entry(run, "run.status_changed", previous, stream_id),))
    return run


def leg_settled(current: RunView | None, state: LegView, at: datetime) -> RunView | None:
    """transaction.settled: the leg's transaction reached SETTLED."""
    if current is None:
        return None
    legs = merged_legs(current.legs, (state,))
    if legs == current.legs:
        return None
    return replace(current, legs=legs, updated_at=_later(current.updated_at, at), stream=())


def cancel_requested(current: RunView | None, at: datetime) -> RunView | None:
    if current is None or current.is_final or current.cancel_requested_at is not None:
        return None
    return replace(current, cancel_requested_at=at, stream=())


# -- runs the api was asked for ----------------------------------------------------------------


def run_requested(request: RunRequest, stream_id: str) -> RunRequest:
    """A new request, announced on the stream as `run.created` (QUEUED)."""
    data = {
        "event_id": stream_id,
        "event_type": "run.created",
        "at": ts(request.created_at),
        "run": request_json(request, orders=False),
        "previous_status": None,
    }
    return replace(request, stream=(StreamEntry(stream_id, data),))


def request_linked(current: RunRequest | None, run_id: str, at: datetime) -> RunRequest | None:
    """rebal's run for this request exists: it is shown from now on."""
    if current is None or current.run_id == run_id:
        return None
    return replace(current, run_id=run_id, updated_at=at, stream=())


def request_awaiting(current: RunRequest | None, optimization_id: str) -> RunRequest | None:
    """The request became an advisory optimization waiting for its owner (still QUEUED)."""
    if current is None or not current.is_open or current.optimization_id == optimization_id:
        return None
    return replace(current, optimization_id=optimization_id, stream=())


def request_ended(
    current: RunRequest | None, status: str, reason: str, at: datetime, stream_id: str
) -> RunRequest | None:
    """rebal refused the request or its optimization ended without a run (ERROR, CANCELED,
    TIMEOUT, with the reason)."""
    if current is None or not current.is_open:
        return None
    ended = replace(current, status=status, reason=reason[:1024], updated_at=at, completed_at=at)
    data = {
        "event_id": stream_id,
        "event_type": "run.status_changed",
        "at": ts(at),
        "run": request_json(ended, orders=False),
        "previous_status": current.status,
    }
    return replace(ended, stream=(StreamEntry(stream_id, data),))
