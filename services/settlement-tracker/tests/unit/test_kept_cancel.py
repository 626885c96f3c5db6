"""Cancels kept on a run read before its plan (`kept_cancel.py`): applied by the plan as if read
just after it, bounded in number, refused once their wait is over."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    MAX_KEPT_CANCELS,
    CancelOfUnknownRun,
    DuplicateCancel,
    DuplicateStatus,
    IllegalTransition,
    KeptCancel,
    Run,
    RunStatus,
    apply_kept_cancels,
    claimed_by,
    expire_kept_cancels,
    keep_cancel,
    kept_cancels_due,
)

from .run_builders import BUY_MSFT, SELL_AAPL, T0, TERMS, at, complete

WAIT = timedelta(hours=1)
CLIENT = replace(TERMS, broker_integration="CLIENT")


def kept(request: str, minutes: int = 0, portfolio: str = "pf-1") -> KeptCancel:
    return KeptCancel(request, portfolio, f"asked by {request}", at(minutes))


def waiting(*cancels: KeptCancel) -> Run:
    run = Run("O1", "pf-1")
    for cancel in cancels:
        run = keep_cancel(run, cancel)
    return run


def plan(run: Run, terms=TERMS) -> Run:  # type: ignore[no-untyped-def]
    return apply_kept_cancels(run.plan((SELL_AAPL, BUY_MSFT), (), terms, created_at=T0), at(30))


def test_a_platform_plan_records_the_first_cancel_for_the_order_router() -> None:
    run = plan(waiting(kept("c-2", 5), kept("c-1", 1)))  # read in this order: c-1 first
    assert (run.cancel_requested_at, run.cancel_request_id) == (at(1), "c-1")
    assert run.kept_cancels == () and run.stop is None  # the router's stop ends it
    assert complete(run, 30)[0].status is RunStatus.QUEUED


def test_a_client_plan_is_canceled_at_once_by_it() -> None:
    run = plan(waiting(kept("c-1", 1)), CLIENT)
    assert run.stop is not None and (run.stop.at, run.stop.cause) == (at(30), "c-1")
    assert run.stop.reason == "asked by c-1"
    moved, completion = complete(run, 30)
    assert completion is not None and completion.status is RunStatus.CANCELED
    assert moved.canceled_at == at(30)


def test_a_cancel_naming_another_portfolio_stays_kept_and_makes_no_claim() -> None:
    stranger = kept("c-9", 1, portfolio="pf-9")
    bare = Run("O1", "pf-9")
    run = keep_cancel(bare, stranger)
    claimed = claimed_by(run, "pf-1")
    assert claimed.portfolio_id == "pf-1" and claimed.kept_cancels == (stranger,)
    planned = plan(claimed)
    assert planned.kept_cancels == (stranger,) and planned.cancel_request_id is None
    with_fact = run.record_fill(0, Decimal(1), Decimal(190), T0.date(), at(2))
    assert claimed_by(with_fact, "pf-1") == with_fact  # a fact said whose run it is


def test_keeping_is_once_per_request_and_bounded() -> None:
    run = waiting(kept("c-1"))
    with pytest.raises(DuplicateCancel):
        keep_cancel(run, kept("c-1", 3))
    full = waiting(*(kept(f"c-{i}", i) for i in range(MAX_KEPT_CANCELS)))
    with pytest.raises(CancelOfUnknownRun, match="cancels already wait"):
        keep_cancel(full, kept("c-more"))
    with pytest.raises(IllegalTransition):
        keep_cancel(plan(Run("O1", "pf-1")), kept("c-1"))


def test_kept_cancels_expire_after_their_wait() -> None:
    run = waiting(kept("c-1", 0), kept("c-2", 10))
    assert kept_cancels_due(run, WAIT) == at(0) + WAIT
    with pytest.raises(DuplicateStatus):
        expire_kept_cancels(run, at(0) + WAIT - timedelta(seconds=1), WAIT)
    left, expired = expire_kept_cancels(run, at(0) + WAIT, WAIT)
    assert [c.request_id for c in expired] == ["c-1"]
    assert [c.request_id for c in left.kept_cancels] == ["c-2"]
    assert kept_cancels_due(left, WAIT) == at(10) + WAIT
    assert kept_cancels_due(Run("O1", "pf-1"), WAIT) is None
