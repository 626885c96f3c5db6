"""The Run aggregate: cancel, status and input validation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateCancel,
    InvalidEvent,
    PlannedOrder,
    Run,
    RunAlreadyCompleted,
    RunStatus,
    Side,
    TransactionStatus,
)

from .run_builders import (
    SELL_AAPL,
    at,
    fill,
    planned_run,
    settle,
)


def test_cancel_before_any_execution_is_canceled_at_once() -> None:
    run = planned_run().cancel(at(3))
    assert all(tx.status is TransactionStatus.CANCELLED for tx in run.transactions.values())
    run, completion = run.complete()
    assert completion is not None
    assert completion.status is RunStatus.CANCELED
    assert run.status is RunStatus.CANCELED
    with pytest.raises(RunAlreadyCompleted):
        run.cancel(at(4))


def test_fill_racing_an_early_cancel_makes_it_canceled_mid_run() -> None:
    run = planned_run().cancel(at(3))
    run = fill(run, 1, "2", "410", 2)  # reported after the cancel, executed before it
    assert run.transactions[1].status is TransactionStatus.CANCELLED
    assert run.complete()[1] is None  # the executed part must settle first
    completion = settle(run).completion()
    assert completion is not None
    assert completion.status is RunStatus.CANCELED_MID_RUN
    assert dict(completion.holdings_delta) == {"MSFT": Decimal(2)}


def test_cancel_mid_run_completes_when_open_legs_close() -> None:
    run = fill(planned_run(), 0, "10", "190", 1).cancel(at(3))
    with pytest.raises(DuplicateCancel):
        run.cancel(at(4))
    assert settle(run).completion() is None  # leg 1 still open
    run = run.record_close(1, CloseReason.CANCELED, Decimal(0), at(5))
    completion = settle(run).completion()
    assert completion is not None
    assert completion.status is RunStatus.CANCELED_MID_RUN


def test_status_is_queued_until_the_first_fact() -> None:
    run = planned_run()
    assert run.status is RunStatus.QUEUED
    assert fill(run, 0, "1", "190").status is RunStatus.IN_PROGRESS


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
