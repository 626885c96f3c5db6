"""Every row of the transaction transition table, legal and illegal, plus the guards."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_settlement_tracker.domain import (
    TRANSITIONS,
    CloseReason,
    DuplicateClose,
    DuplicateFill,
    IllegalTransition,
    InvalidEvent,
    OrderClosed,
    OrderFilled,
    Side,
    Transaction,
    TransactionEvent,
    TransactionEventKind,
    TransactionSettled,
    TransactionStatus,
)

S = TransactionStatus
K = TransactionEventKind
TRADE_DATE = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
KIND_TO_REASON = {
    K.CLOSED_NOT_EXECUTED: CloseReason.NOT_EXECUTED,
    K.CLOSED_EXPIRED: CloseReason.EXPIRED,
    K.CLOSED_CANCELLED: CloseReason.CANCELED,
}
STATUS_TO_REASON = {
    S.NOT_EXECUTED: CloseReason.REJECTED,
    S.EXPIRED: CloseReason.EXPIRED,
    S.CANCELLED: CloseReason.CANCELED,
}
CLOSED = (S.NOT_EXECUTED, S.EXPIRED, S.CANCELLED)

# The specification, written independently of the implementation's table.
# A status is the expected new status; an exception class is the expected rejection.
EXPECTED: dict[tuple[TransactionStatus, TransactionEventKind], object] = {
    (S.PLANNED, K.FILLED_PARTIALLY): S.EXECUTED,
    (S.PLANNED, K.FILLED_FULLY): S.EXECUTED,
    (S.PLANNED, K.CLOSED_NOT_EXECUTED): S.NOT_EXECUTED,
    (S.PLANNED, K.CLOSED_EXPIRED): S.EXPIRED,
    (S.PLANNED, K.CLOSED_CANCELLED): S.CANCELLED,
    (S.PLANNED, K.SETTLED): IllegalTransition,
    (S.EXECUTED, K.FILLED_PARTIALLY): S.EXECUTED,
    (S.EXECUTED, K.FILLED_FULLY): S.EXECUTED,
    (S.EXECUTED, K.CLOSED_NOT_EXECUTED): S.NOT_EXECUTED,
    (S.EXECUTED, K.CLOSED_EXPIRED): S.EXPIRED,
    (S.EXECUTED, K.CLOSED_CANCELLED): S.CANCELLED,
    (S.EXECUTED, K.SETTLED): S.SETTLED,
    (S.SETTLED, K.FILLED_PARTIALLY): IllegalTransition,
    (S.SETTLED, K.FILLED_FULLY): IllegalTransition,
    # A settled transaction is fully executed, so a close is moot: a no-op, not an error.
    (S.SETTLED, K.CLOSED_NOT_EXECUTED): DuplicateClose,
    (S.SETTLED, K.CLOSED_EXPIRED): DuplicateClose,
    (S.SETTLED, K.CLOSED_CANCELLED): DuplicateClose,
    (S.SETTLED, K.SETTLED): IllegalTransition,
}
for _closed in CLOSED:
    EXPECTED[(_closed, K.FILLED_PARTIALLY)] = _closed
    EXPECTED[(_closed, K.FILLED_FULLY)] = S.EXECUTED
    EXPECTED[(_closed, K.SETTLED)] = _closed
    for _kind in KIND_TO_REASON:
        EXPECTED[(_closed, _kind)] = IllegalTransition


def filled(cum: int, *, fully: bool = False, minutes: int = 0) -> OrderFilled:
    return OrderFilled(
        Decimal(cum), Decimal("10.50"), TRADE_DATE, T0 + timedelta(minutes=minutes), fully
    )


def closed(reason: CloseReason, cum: int, minutes: int = 30) -> OrderClosed:
    return OrderClosed(reason, Decimal(cum), T0 + timedelta(minutes=minutes))


def planned(qty: int | None = None) -> Transaction:
    if qty is None:  # a notional leg: only the broker's flag says it is fully filled
        return Transaction.planned(0, "AAPL", Side.BUY, notional=Decimal(1000))
    return Transaction.planned(0, "AAPL", Side.BUY, qty=Decimal(qty))


def in_state(status: TransactionStatus, *, fully_executed: bool = False) -> Transaction:
    tx = planned()
    if status is S.PLANNED:
        return tx
    if status is S.EXECUTED:
        return tx.apply(filled(10, fully=True) if fully_executed else filled(4))
    if status is S.SETTLED:
        return tx.apply(filled(10, fully=True)).apply(TransactionSettled(TRADE_DATE))
    return tx.apply(filled(4)).apply(closed(STATUS_TO_REASON[status], 4))


def event_of(kind: TransactionEventKind, tx: Transaction) -> TransactionEvent:
    if kind is K.FILLED_PARTIALLY:
        return filled(int(tx.filled_qty) + 1, minutes=5)
    if kind is K.FILLED_FULLY:
        return filled(int(tx.filled_qty) + 1, fully=True, minutes=5)
    if kind is K.SETTLED:
        return TransactionSettled(TRADE_DATE + timedelta(days=1))
    return closed(KIND_TO_REASON[kind], int(tx.filled_qty), minutes=45)


def test_spec_covers_every_state_and_kind() -> None:
    assert set(EXPECTED) == set(itertools.product(S, K))


def test_table_contains_exactly_the_legal_rows() -> None:
    legal = {row: target for row, target in EXPECTED.items() if isinstance(target, S)}
    assert dict(TRANSITIONS) == legal


@pytest.mark.parametrize(("row", "expected"), EXPECTED.items(), ids=lambda v: str(v))
def test_transition_row(
    row: tuple[TransactionStatus, TransactionEventKind], expected: object
) -> None:
    status, kind = row
    # Settling an EXECUTED transaction needs it fully executed; closing it needs it partial.
    tx = in_state(status, fully_executed=(kind is K.SETTLED))
    assert tx.status is status
    event = event_of(kind, tx)
    if expected is not DuplicateClose:  # the event is of the row's kind; the table decides
        assert tx.event_kind(event) is kind
    if isinstance(expected, S):
        after = tx.apply(event)
        assert after.status is expected
        assert tx.status is status  # immutable: the original is untouched
    else:
        assert isinstance(expected, type)
        with pytest.raises(expected):
            tx.apply(event)


def test_fill_accumulates_and_keeps_latest_average_price() -> None:
    tx = (
        planned(10)
        .apply(filled(3))
        .apply(OrderFilled(Decimal(7), Decimal("11.25"), TRADE_DATE, T0 + timedelta(minutes=1)))
    )
    assert (tx.status, tx.filled_qty, tx.avg_price) == (S.EXECUTED, Decimal(7), Decimal("11.25"))
    assert not tx.is_fully_executed
    assert tx.apply(filled(10, minutes=2)).is_fully_executed  # planned qty reached


@pytest.mark.parametrize("cum", [3, 2])
def test_duplicate_or_stale_fill_is_rejected(cum: int) -> None:
    tx = planned(10).apply(filled(3))
    with pytest.raises(DuplicateFill):
        tx.apply(filled(cum, minutes=9))


def test_fully_filled_flag_at_same_quantity_is_not_a_duplicate() -> None:
    tx = planned().apply(filled(4))
    upgraded = tx.apply(filled(4, fully=True))
    assert upgraded.is_fully_executed
    assert upgraded.filled_qty == Decimal(4)
    with pytest.raises(DuplicateFill):
        upgraded.apply(filled(4, fully=True))


def test_close_of_fully_executed_order_is_moot() -> None:
    with pytest.raises(DuplicateClose):
        in_state(S.EXECUTED, fully_executed=True).apply(closed(CloseReason.CANCELED, 10))


def test_replayed_close_is_a_duplicate_but_a_different_one_is_illegal() -> None:
    tx = planned(10).apply(closed(CloseReason.EXPIRED, 0))
    with pytest.raises(DuplicateClose):
        tx.apply(closed(CloseReason.EXPIRED, 0))
    with pytest.raises(IllegalTransition):
        tx.apply(closed(CloseReason.CANCELED, 0))


def test_partial_then_close_keeps_executed_part_which_settles() -> None:
    tx = planned(10).apply(filled(4)).apply(closed(CloseReason.EXPIRED, 4))
    assert (tx.status, tx.filled_qty, tx.is_settleable) == (S.EXPIRED, Decimal(4), True)
    assert not tx.is_final
    assert tx.is_order_final
    settled = tx.apply(TransactionSettled(date(2026, 11, 24)))
    assert (settled.status, settled.settled_on) == (S.EXPIRED, date(2026, 11, 24))
    assert settled.is_final
    with pytest.raises(IllegalTransition):  # the settled executed part cannot grow any more
        settled.apply(filled(5, minutes=50))


def test_close_before_its_fill_waits_for_the_fill() -> None:
    tx = planned(10).apply(closed(CloseReason.CANCELED, 4))
    assert tx.status is S.CANCELLED
    assert not tx.executed_part_known
    assert not tx.is_settleable
    assert not tx.is_order_final
    tx = tx.apply(filled(4))
    assert tx.status is S.CANCELLED
    assert tx.filled_qty == Decimal(4)
    assert tx.is_order_final
    assert tx.is_settleable


def test_closed_without_fill_is_final_at_once() -> None:
    tx = planned(10).apply(closed(CloseReason.REJECTED, 0))
    assert tx.status is S.NOT_EXECUTED
    assert tx.close_reason is CloseReason.REJECTED
    assert tx.is_final and tx.is_order_final
    assert not tx.is_settleable


def test_partial_open_execution_does_not_settle() -> None:
    with pytest.raises(IllegalTransition):
        planned(10).apply(filled(4)).apply(TransactionSettled(TRADE_DATE))


def test_settlement_before_trade_date_is_illegal() -> None:
    with pytest.raises(IllegalTransition):
        planned(10).apply(filled(10)).apply(TransactionSettled(TRADE_DATE - timedelta(days=1)))


@pytest.mark.parametrize(
    "build",
    [
        lambda: OrderFilled(Decimal(0), Decimal(1), TRADE_DATE, T0),
        lambda: OrderFilled(Decimal(1), Decimal(0), TRADE_DATE, T0),
        lambda: OrderFilled(Decimal(1), Decimal(1), TRADE_DATE, datetime(2026, 11, 23)),
        lambda: OrderClosed(CloseReason.EXPIRED, Decimal(-1), T0),
        lambda: OrderClosed(CloseReason.EXPIRED, Decimal(0), datetime(2026, 11, 23)),
    ],
)
def test_invalid_events_are_refused(build: object) -> None:
    assert callable(build)
    with pytest.raises(InvalidEvent):
        build()
