"""The Run aggregate: how its execution ends early (`stop.py`: canceled, re-plan, canceled mid-run,
timeout), its deadline, and the late fills that come after the end."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateClose,
    DuplicateFill,
    DuplicateStatus,
    IllegalTransition,
    InvalidEvent,
    Run,
    RunAlreadyCompleted,
    RunStatus,
    RunStop,
    StopKind,
    TransactionStatus,
    deadline,
    move_status,
    settle_run,
    time_out_if_due,
)

from .run_builders import (
    BUY_MSFT,
    MONDAY,
    SELL_AAPL,
    T0,
    TERMS,
    at,
    complete,
    fill,
    planned_run,
    settle,
)

DAY = timedelta(days=1)
CLIENT = replace(TERMS, broker_integration="CLIENT")


def stop(kind: StopKind, minutes: int = 3, reason: str = "", cause: str | None = None) -> RunStop:
    return RunStop(kind, at(minutes), reason, cause)


def ended(run: Run, minutes: int = 600) -> Run:
    moved = complete(run, minutes)[0]
    assert moved.is_completed
    return moved


@pytest.mark.parametrize(
    ("kind", "status", "reason"),
    [
        (StopKind.CANCELED, RunStatus.CANCELED, "canceled before any order executed: asked"),
        (StopKind.REPLAN, RunStatus.CANCELED, "re-planned before any order executed: asked"),
    ],
)
def test_a_stop_before_any_order_ends_the_run_at_once(kind, status, reason) -> None:
    run = planned_run().stop_execution(stop(kind, reason="asked", cause="c-1"))
    run, changes, completion = move_status(run, at(4))
    assert [c.status for c in changes] == [RunStatus.QUEUED, status]  # never started
    assert completion is not None and (completion.status, completion.reason) == (status, reason)
    assert [(o.status, o.filled_qty, o.reason) for o in completion.failed] == [
        (TransactionStatus.CANCELLED, Decimal(0), "canceled")
    ] * 2
    assert (
        run.canceled_at == at(3)
        and run.stop is not None
        and run.stop.replan is (kind is StopKind.REPLAN)
    )
    assert settle_run(run, at(4))[1] is not None  # nothing executed: settled at once


def test_a_stop_with_fills_known_ends_canceled_mid_run_with_the_fills() -> None:
    run = fill(planned_run(), 0, "4", "190", 1).stop_execution(stop(StopKind.CANCELED))
    completion = complete(run)[1]
    assert completion is not None and completion.status is RunStatus.CANCELED_MID_RUN
    aapl, msft = completion.orders
    assert (aapl.status, aapl.filled_qty) == (TransactionStatus.CANCELLED, Decimal(4))
    assert (msft.status, msft.filled_qty) == (TransactionStatus.CANCELLED, Decimal(0))
    assert dict(completion.holdings_delta) == {"AAPL": Decimal(-4)}  # the executed part stays


def test_a_stop_mid_run_gives_the_same_run_whether_fills_came_before_or_after_it() -> None:
    mid_run = stop(StopKind.CANCELED_MID_RUN, reason="asked", cause="c-1")

    def facts(run: Run) -> Run:
        run = fill(run, 0, "10", "190", 1)
        return run.record_close(1, CloseReason.CANCELED, Decimal(0), at(5))

    before = facts(planned_run().stop_execution(mid_run))
    after = facts(planned_run()).stop_execution(mid_run)
    assert before == after
    _, changes, completion = move_status(after, at(6))
    assert [c.status for c in changes] == [
        RunStatus.QUEUED,
        RunStatus.IN_PROGRESS,
        RunStatus.CANCELED_MID_RUN,
    ]
    assert completion == complete(before, 6)[1]


def test_a_stop_before_the_plan_applies_when_it_arrives() -> None:
    early = Run("O1", "pf-1").stop_execution(stop(StopKind.CANCELED, cause="c-1"))
    early = early.record_fill(0, Decimal(2), Decimal(190), MONDAY, at(1))
    run = early.plan((SELL_AAPL, BUY_MSFT), (), TERMS, created_at=T0)
    completion = complete(run)[1]
    assert completion is not None and completion.status is RunStatus.CANCELED_MID_RUN


def test_stops_are_once_and_moot_after_the_end() -> None:
    run = planned_run().stop_execution(stop(StopKind.CANCELED_MID_RUN))
    with pytest.raises(DuplicateStatus):
        run.stop_execution(stop(StopKind.CANCELED))
    done = ended(fill(fill(planned_run(), 0, "10", "190", 1), 1, "5", "410", 2))
    with pytest.raises(DuplicateStatus):  # completed by its orders before the stop was read
        done.stop_execution(stop(StopKind.CANCELED_MID_RUN))
    with pytest.raises(InvalidEvent):
        planned_run().stop_execution(stop(StopKind.TIMEOUT))


def test_the_order_router_reports_no_execution_of_a_client_run() -> None:
    client = Run("O1", "pf-1").plan((SELL_AAPL,), (), CLIENT, created_at=T0)
    for command in (
        lambda run: run.start_execution(at(1)),
        lambda run: run.queue_execution(at(60)),
        lambda run: run.stop_execution(stop(StopKind.CANCELED)),
    ):
        with pytest.raises(IllegalTransition, match="is CLIENT"):
            command(client)
    early = Run("O1", "pf-1").start_execution(at(1)).stop_execution(stop(StopKind.CANCELED))
    planned = early.plan((SELL_AAPL,), (), CLIENT, created_at=T0)  # dropped: not the router's
    assert (planned.execution_started_at, planned.stop) == (None, None)


def test_queued_start_is_recorded_and_the_run_stays_queued() -> None:
    run = planned_run().queue_execution(at(120))
    assert run.execution_starts_at == at(120)
    assert complete(run)[0].status is RunStatus.QUEUED
    with pytest.raises(DuplicateStatus):
        run.queue_execution(at(120))
    requeued = run.queue_execution(at(120) + DAY)  # the window closed before it sent anything
    assert requeued.execution_starts_at == at(120) + DAY
    for stale in (at(120), at(60)):  # an older queuing read again: the later start stands
        with pytest.raises(DuplicateStatus):
            requeued.queue_execution(stale)
    early = Run("O1", "pf-1").queue_execution(at(120)).queue_execution(at(120) + DAY)
    assert early.execution_starts_at == at(120) + DAY  # before the plan too
    with pytest.raises(DuplicateStatus):  # moot once it started
        planned_run().start_execution(at(1)).queue_execution(at(120))


def test_deadline_counts_from_in_progress_for_platform_and_from_creation_for_client() -> None:
    queued = complete(planned_run(), 10)[0]
    assert deadline(queued, DAY) is None  # QUEUED time does not count
    started = complete(queued.start_execution(at(30)), 30)[0]
    assert deadline(started, DAY) == at(30) + DAY
    client = complete(Run("O1", "pf-1").plan((SELL_AAPL,), (), CLIENT, created_at=T0), 10)[0]
    assert client.status is RunStatus.QUEUED and deadline(client, DAY) == T0 + DAY
    assert deadline(ended(client.cancel(at(40))), DAY) is None
    with pytest.raises(DuplicateStatus):
        time_out_if_due(started, at(29) + DAY, DAY)  # not yet


def test_timeout_expires_the_unknown_legs_and_keeps_what_executed() -> None:
    run = complete(fill(planned_run(), 0, "4", "190", 1), 1)[0]  # AAPL partial, MSFT unknown
    now = at(1) + DAY
    run = time_out_if_due(run, now, DAY)
    run, changes, completion = move_status(run, now)
    assert [(c.previous, c.status) for c in changes] == [(RunStatus.IN_PROGRESS, RunStatus.TIMEOUT)]
    assert completion is not None
    assert completion.reason == "no outcome by the deadline for 2 of 2 order(s)"
    aapl, msft = completion.orders
    assert (aapl.status, aapl.filled_qty) == (TransactionStatus.EXPIRED, Decimal(4))
    assert msft.status is TransactionStatus.EXPIRED
    assert msft.reason == "expired: no outcome by the deadline"
    assert settle_run(run, now)[1] is None  # the 4 AAPL settle first
    assert settle_run(settle(run), now)[1] is not None
    with pytest.raises(DuplicateStatus):
        run.time_out(now)


def test_timeout_supersedes_a_stop_still_waiting_for_its_closes() -> None:
    mid_run = stop(StopKind.CANCELED_MID_RUN, reason="asked", cause="c-1")
    run = complete(fill(planned_run(), 0, "10", "190", 1).stop_execution(mid_run), 2)[0]
    run = run.time_out(at(2) + DAY)
    completion = complete(run, 2 + 24 * 60)[1]
    assert completion is not None and completion.status is RunStatus.TIMEOUT
    assert completion.reason == "asked; then no outcome by the deadline for 1 of 2 order(s)"
    assert run.canceled_at is None and run.stop is not None and run.stop.cause is None


def test_a_late_fill_is_recorded_and_settles_but_the_run_stays_as_it_ended() -> None:
    run = ended(complete(fill(planned_run(), 0, "10", "190", 1), 1)[0].time_out(at(2) + DAY))
    said = run.report()
    late = run.record_fill(1, Decimal(5), Decimal(410), MONDAY, at(3) + DAY, fully_filled=True)
    assert late.late_transactions[1].status is TransactionStatus.EXECUTED
    assert late.transactions == run.transactions  # as it ended
    assert late.report() == said and late.completion() is None  # not reopened, not said again
    with pytest.raises(DuplicateFill):
        late.record_fill(1, Decimal(5), Decimal(410), MONDAY, at(3) + DAY, fully_filled=True)
    with pytest.raises(DuplicateClose):  # the leg's outcome was fixed at the end
        late.record_close(1, CloseReason.REJECTED, Decimal(0), at(4) + DAY)
    tuesday = MONDAY + timedelta(days=1)
    settled = settle(late, tuesday)
    assert settled.late_transactions[1].status is TransactionStatus.SETTLED
    assert settled.late_transactions[1].settled_on == tuesday
    assert settled.report() == settle(run, tuesday).report()  # run.settled: as it ended
    with pytest.raises(IllegalTransition, match="already settled"):
        settled.record_fill(1, Decimal(5), Decimal(411), MONDAY, at(5) + DAY, fully_filled=True)


def test_a_later_fill_of_a_leg_that_had_executed_at_the_end_is_refused() -> None:
    run = ended(fill(planned_run(), 0, "4", "190", 1).cancel(at(2)))
    with pytest.raises(RunAlreadyCompleted):
        fill(run, 0, "6", "190", 3)
    normal = ended(
        fill(fill(planned_run(), 0, "10", "190", 1), 1, "2", "410", 2).record_close(
            1, CloseReason.EXPIRED, Decimal(2), at(3)
        )
    )
    with pytest.raises(RunAlreadyCompleted):  # no stop: a run completed by its orders
        fill(normal, 1, "3", "410", 4)


def test_timeout_also_ends_a_leg_whose_close_claims_fills_that_never_came() -> None:
    run = planned_run(BUY_MSFT).record_close(1, CloseReason.CANCELED, Decimal(3), at(1))
    run = complete(run, 1)[0]
    assert run.completion() is None  # waits for the fill of the 3 MSFT
    run, completion = complete(run.time_out(at(1) + DAY), 2 + 24 * 60)
    assert completion is not None and completion.status is RunStatus.TIMEOUT
    [msft] = completion.orders
    assert (msft.status, msft.filled_qty) == (TransactionStatus.EXPIRED, Decimal(0))
    assert settle_run(run, at(3) + DAY)[1] is not None  # the portfolio is unblocked


def test_after_a_timeout_what_a_leg_executed_beyond_its_report_is_a_late_increment() -> None:
    run = ended(complete(fill(planned_run(), 0, "4", "190", 1), 1)[0].time_out(at(2) + DAY))
    said = run.report()
    late = run.record_fill(0, Decimal(7), Decimal("190.3"), MONDAY, at(3) + DAY)
    increment = late.late_fills[0]  # 7 x 190.3 - 4 x 190 = 572.1 for the 3 more
    assert (increment.cum_qty, increment.avg_price) == (Decimal(3), Decimal("190.7"))
    assert late.report() == said and late.transactions == run.transactions
    for stale in ("4", "2"):  # what the run reported, or less: nothing new
        with pytest.raises(DuplicateFill):
            late.record_fill(0, Decimal(stale), Decimal(190), MONDAY, at(4) + DAY)
    with pytest.raises(DuplicateClose):  # every leg's outcome was fixed at the deadline
        late.record_close(0, CloseReason.EXPIRED, Decimal(7), at(4) + DAY)
    # averages that do not add up leave the increment no price of its own: the report's
    odd = run.record_fill(0, Decimal(5), Decimal(100), MONDAY, at(3) + DAY).late_fills[0]
    assert (odd.cum_qty, odd.avg_price) == (Decimal(1), Decimal(100))


def test_a_close_caused_by_the_run_cancel_waits_for_the_order_routers_stop() -> None:
    def closes(run: Run, *flags: bool) -> Run:
        for flag in flags:
            try:
                run = run.record_close(
                    1, CloseReason.CANCELED, Decimal(0), at(5), run_canceled=flag
                )
            except DuplicateClose:  # the same close without the flag adds nothing
                assert not flag
        return run

    filled = fill(planned_run(), 0, "10", "190", 1)
    for flags in ((True,), (True, False), (False, True)):  # the flag is kept whatever the order
        run = closes(filled, *flags)
        assert run.closes[1].run_canceled and run.transactions[1].is_order_final
        assert complete(run)[1] is None  # the stop is on its way: not COMPLETED_ADJUSTED
    with pytest.raises(DuplicateClose):  # redelivered
        closes(filled, True).record_close(
            1, CloseReason.CANCELED, Decimal(0), at(5), run_canceled=True
        )
    mid_run = stop(StopKind.CANCELED_MID_RUN, cause="c-1")
    completion = complete(closes(filled, True).stop_execution(mid_run))[1]
    assert completion is not None and completion.status is RunStatus.CANCELED_MID_RUN
    assert complete(closes(filled, False))[1] is not None  # closed by itself: completes
