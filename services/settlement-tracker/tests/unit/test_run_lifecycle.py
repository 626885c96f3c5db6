"""The run's state machine: every (status, target) pair of the transition table, and how the
facts move a run through it, each status once."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    RUN_TRANSITIONS,
    CloseReason,
    DuplicateStatus,
    IllegalTransition,
    OrderRef,
    Run,
    RunLifecycle,
    RunStatus,
    StatusChange,
    move_status,
    reported_completion,
    settle_due,
    settle_run,
)

from .run_builders import (
    BUY_MSFT,
    CALENDAR,
    MONDAY,
    SELL_AAPL,
    T0,
    T1,
    TERMS,
    at,
    complete,
    fill,
    planned_run,
)

R = RunStatus
FINAL = (
    R.COMPLETED_SUCCESS,
    R.COMPLETED_ADJUSTED,
    R.ERROR,
    R.CANCELED,
    R.CANCELED_MID_RUN,
    R.TIMEOUT,
)
DUP, ILLEGAL = DuplicateStatus, IllegalTransition

# The specification, written independently of the implementation's table: from each status
# (None: not created yet) to each target, the new status or the rejection.
EXPECTED: dict[tuple[RunStatus | None, RunStatus], object] = {
    (None, R.QUEUED): R.QUEUED,
    (None, R.IN_PROGRESS): ILLEGAL,
    **{(None, final): ILLEGAL for final in FINAL},
    (R.QUEUED, R.QUEUED): DUP,
    (R.QUEUED, R.IN_PROGRESS): R.IN_PROGRESS,
    (R.QUEUED, R.COMPLETED_SUCCESS): R.COMPLETED_SUCCESS,  # a run without orders
    (R.QUEUED, R.COMPLETED_ADJUSTED): R.COMPLETED_ADJUSTED,  # only skipped orders
    (R.QUEUED, R.ERROR): ILLEGAL,  # an error needs orders, whose events start the run
    (R.QUEUED, R.CANCELED): R.CANCELED,
    (R.QUEUED, R.CANCELED_MID_RUN): ILLEGAL,  # orders left: the run started
    (R.QUEUED, R.TIMEOUT): R.TIMEOUT,  # a CLIENT run whose middleware never reported
    (R.IN_PROGRESS, R.QUEUED): DUP,
    (R.IN_PROGRESS, R.IN_PROGRESS): DUP,
    **{(R.IN_PROGRESS, final): final for final in FINAL},
    **{(final, R.QUEUED): DUP for final in FINAL},
    **{(final, R.IN_PROGRESS): DUP for final in FINAL},  # a late "execution started"
    **{(a, b): (DUP if a is b else ILLEGAL) for a, b in itertools.product(FINAL, FINAL)},
}


def in_status(status: RunStatus | None) -> RunLifecycle:
    return RunLifecycle(status=status, created_at=T0 if status else None)


def test_the_specification_covers_every_pair() -> None:
    assert set(EXPECTED) == set(itertools.product([None, *RunStatus], RunStatus))
    allowed = {(a, b) for (a, b), outcome in EXPECTED.items() if isinstance(outcome, RunStatus)}
    assert allowed == {(a, b) for a, targets in RUN_TRANSITIONS.items() for b in targets}


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED, key=str))
def test_every_pair_of_the_table(current: RunStatus | None, target: RunStatus) -> None:
    expected = EXPECTED[(current, target)]
    lifecycle = in_status(current)
    if isinstance(expected, RunStatus):
        moved, change = lifecycle.apply(target, at(5), "why")
        assert moved.status is expected and moved.updated_at == at(5)
        assert change == StatusChange(current, target, at(5), "why" if target.is_final else None)
        assert moved.created_at == (T0 if current else at(5))
        assert (moved.completed_at, moved.reason) == (
            (at(5), "why") if target.is_final else (None, None)
        )
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected):
            lifecycle.apply(target, at(5))


def test_a_run_settles_once_and_only_after_its_final_status() -> None:
    with pytest.raises(IllegalTransition):
        in_status(R.IN_PROGRESS).mark_settled(at(9))
    settled = in_status(R.COMPLETED_ADJUSTED).mark_settled(at(9))
    assert settled.settled_at == at(9)
    with pytest.raises(DuplicateStatus):
        settled.mark_settled(at(10))


def test_facts_move_the_run_one_status_at_a_time() -> None:
    run, changes, completion = move_status(planned_run(), at(1))
    assert changes == (StatusChange(None, R.QUEUED, T0),) and completion is None
    assert move_status(run, at(2))[1] == ()  # nothing new: nothing said
    run, changes, _ = move_status(fill(run, 0, "10", "190", 3), at(3))
    assert changes == (StatusChange(R.QUEUED, R.IN_PROGRESS, at(3)),)
    run, changes, completion = move_status(fill(run, 1, "5", "410", 4), at(4))
    assert changes == (StatusChange(R.IN_PROGRESS, R.COMPLETED_SUCCESS, at(4)),)
    assert completion is not None and completion.status is R.COMPLETED_SUCCESS
    assert (run.lifecycle.created_at, run.lifecycle.completed_at) == (T0, at(4))
    assert move_status(run, at(5))[1:] == ((), None)


def test_everything_at_once_is_every_status_in_order() -> None:
    early = Run("O1", "pf-1").record_close(0, CloseReason.REJECTED, Decimal(0), at(1))
    run, changes, completion = move_status(early.plan([SELL_AAPL], (), TERMS, created_at=T0), at(2))
    assert [(c.previous, c.status) for c in changes] == [
        (None, R.QUEUED),
        (R.QUEUED, R.IN_PROGRESS),
        (R.IN_PROGRESS, R.ERROR),
    ]
    assert changes[-1].reason == "none of the 1 order(s) executed"
    assert completion is not None and run.status is R.ERROR


def test_a_run_without_orders_completes_without_starting() -> None:
    run = Run("O1", "pf-1").plan([], (), TERMS, created_at=T0)
    run, changes, completion = move_status(run, at(1))
    assert [c.status for c in changes] == [R.QUEUED, R.COMPLETED_SUCCESS]
    assert completion is not None
    run, settlement = settle_run(run, at(1))  # nothing to settle: settled at once
    assert settlement is not None and run.lifecycle.settled_at == at(1)


def test_execution_started_moves_the_run_before_any_order_event() -> None:
    run = complete(planned_run())[0]
    started = run.start_execution(at(2))
    run, changes, _ = move_status(started, at(3))
    assert [c.status for c in changes] == [R.IN_PROGRESS]
    with pytest.raises(DuplicateStatus):
        started.start_execution(at(4))
    done = complete(fill(fill(run, 0, "10", "190", 5), 1, "5", "410", 6))[0]
    with pytest.raises(DuplicateStatus):  # moot once the run completed
        done.start_execution(at(7))


def test_settled_after_every_transaction_and_run_completed_said_again_as_it_was() -> None:
    run = complete(fill(fill(planned_run(), 0, "10", "190", 1), 1, "5", "410", 2))[0]
    assert settle_run(run, at(3)) == (run, None)  # executed, not settled
    said = reported_completion(run)
    run = settle_due(run, MONDAY, CALENDAR, T1)[0]
    run, settlement = settle_run(run, at(4000))
    assert settlement is not None and run.lifecycle.settled_at == at(4000)
    assert settle_run(run, at(4001))[1] is None  # once
    assert reported_completion(run) == said  # the settlements that came later are not in it
    assert settlement.orders != said.orders  # run.settled reports them SETTLED


def test_order_ids_of_a_leg_are_joined_from_its_reports() -> None:
    router = OrderRef("rebal-O1-1", None)
    broker = OrderRef("rebal-O1-1", "b-77")
    run = planned_run(BUY_MSFT)
    run = run.record_fill(1, Decimal(2), Decimal(410), MONDAY, at(1), ref=router)
    run = run.record_close(1, CloseReason.EXPIRED, Decimal(2), at(2), ref=broker)
    [order] = complete(run)[1].orders  # type: ignore[union-attr]
    assert (order.client_order_id, order.broker_order_id) == ("rebal-O1-1", "b-77")
    assert router.join(broker) == broker.join(router) == broker
