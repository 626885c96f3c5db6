"""The Run aggregate: cancel (requested by a client; a CLIENT run's ends it at once, a PLATFORM
run's execution is stopped by the order-router), status and input validation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    CancelOfFinalRun,
    CancelOfUnknownRun,
    CloseReason,
    DuplicateCancel,
    DuplicateStatus,
    InvalidEvent,
    PlannedOrder,
    Run,
    RunAlreadyCompleted,
    RunStatus,
    RunStop,
    Side,
    StopKind,
    TransactionStatus,
)

from .run_builders import (
    FRIDAY,
    SELL_AAPL,
    at,
    complete,
    fill,
    planned_run,
)


def test_cancel_before_any_execution_is_canceled_at_once() -> None:
    run = planned_run().cancel(at(3))
    assert all(tx.status is TransactionStatus.CANCELLED for tx in run.transactions.values())
    run, completion = complete(run)
    assert completion is not None
    assert completion.status is RunStatus.CANCELED
    assert run.status is RunStatus.CANCELED
    with pytest.raises(RunAlreadyCompleted):
        run.cancel(at(4))


def test_fill_racing_an_early_cancel_makes_it_canceled_mid_run() -> None:
    run = planned_run().cancel(at(3))
    run = fill(run, 1, "2", "410", 2)  # reported after the cancel, executed before it
    assert run.transactions[1].status is TransactionStatus.CANCELLED
    completion = run.completion()  # every order ended: complete now, the 2 MSFT settle later
    assert completion is not None
    assert completion.status is RunStatus.CANCELED_MID_RUN
    assert dict(completion.holdings_delta) == {"MSFT": Decimal(2)}


def test_a_cancel_after_fills_ends_canceled_mid_run_at_once() -> None:
    run = fill(planned_run(), 0, "10", "190", 1).cancel(at(3), "enough", cause="c-1")
    with pytest.raises(DuplicateCancel):
        run.cancel(at(4))
    assert run.transactions[1].status is TransactionStatus.CANCELLED  # never reported
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.CANCELED_MID_RUN
    assert completion.reason == "canceled after 1 order(s) executed: enough"
    assert run.canceled_at == at(3) and run.stop is not None and run.stop.cause == "c-1"


def test_a_stop_mid_run_completes_when_the_open_legs_close() -> None:
    stop = RunStop(StopKind.CANCELED_MID_RUN, at(3), "asked", "c-1")
    run = fill(planned_run(), 0, "10", "190", 1).stop_execution(stop)
    with pytest.raises(DuplicateStatus):  # one stop per run
        run.stop_execution(RunStop(StopKind.CANCELED, at(4)))
    assert run.completion() is None  # leg 1 still open: the broker's cancel is on its way
    run = run.record_close(1, CloseReason.CANCELED, Decimal(0), at(5))
    completion = run.completion()
    assert completion is not None
    assert completion.status is RunStatus.CANCELED_MID_RUN
    assert completion.reason == "canceled after 1 order(s) executed: asked"


def test_status_is_queued_until_the_first_fact() -> None:
    run = complete(planned_run())[0]
    assert run.status is RunStatus.QUEUED
    assert complete(fill(run, 0, "1", "190"))[0].status is RunStatus.IN_PROGRESS


def test_a_cancel_request_is_recorded_once_and_changes_nothing_else() -> None:
    run = complete(fill(planned_run(), 0, "1", "190"))[0]
    requested = run.request_cancel("pf-1", at(3))
    assert requested.cancel_requested_at == at(3)
    assert requested.transactions == run.transactions and requested.status is run.status
    assert requested.canceled_at is None  # stopping the orders is the order-router's
    with pytest.raises(DuplicateCancel):
        requested.request_cancel("pf-1", at(4))


def test_a_cancel_request_for_an_unknown_or_final_run_is_refused() -> None:
    early = Run("O1", "pf-1").record_fill(0, Decimal(1), Decimal(190), FRIDAY, at(1))
    with pytest.raises(CancelOfUnknownRun, match="no run O1 for portfolio pf-1"):
        early.request_cancel("pf-1", at(2))  # its plan is not known: not created
    with pytest.raises(CancelOfUnknownRun):
        planned_run().request_cancel("someone-else", at(2))
    done = planned_run(SELL_AAPL).record_close(0, CloseReason.REJECTED, Decimal(0), at(1))
    done = complete(done)[0]
    with pytest.raises(CancelOfFinalRun, match="already ERROR"):
        done.request_cancel("pf-1", at(2))


@pytest.mark.parametrize(
    "build",
    [
        lambda: PlannedOrder(0, "A", Side.BUY),
        lambda: PlannedOrder(0, "A", Side.BUY, qty=Decimal(1), notional=Decimal(1)),
        lambda: PlannedOrder(0, "A", Side.BUY, qty=Decimal(0)),
        lambda: PlannedOrder(-1, "A", Side.BUY, qty=Decimal(1)),
        lambda: Run("O1", "pf").plan([SELL_AAPL, SELL_AAPL]),
        lambda: Run("O1", "pf").cancel(datetime(2026, 11, 20)),
    ],
)
def test_invalid_input_is_refused(build: object) -> None:
    assert callable(build)
    with pytest.raises(InvalidEvent):
        build()
