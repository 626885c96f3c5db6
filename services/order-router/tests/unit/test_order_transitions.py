"""Every cell of the order state machine, plus the cumulative-fill rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_order_router.domain import (
    TRANSITIONS,
    ApplyOutcome,
    CloseReason,
    Order,
    OrderClosed,
    OrderEvent,
    OrderEventKind,
    OrderFilled,
    OrderSide,
    OrderStatus,
)

S, K = OrderStatus, OrderEventKind
DUP, STALE = ApplyOutcome.DUPLICATE, ApplyOutcome.STALE
UNSENT = (K.ABANDONED, K.WINDOW_CLOSED)  # the router's own closes of an intent never sent
AT = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)

# Written out independently of the implementation; any cell not listed must be ILLEGAL.
EXPECTED: dict[OrderStatus, dict[OrderEventKind, OrderStatus | ApplyOutcome]] = {
    S.PENDING_SUBMIT: {
        K.ACCEPTED: S.SUBMITTED,
        K.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        K.FILLED: S.FILLED,
        K.CANCELED: S.CANCELED,
        K.EXPIRED: S.EXPIRED,
        K.REJECTED: S.REJECTED,
        K.ABANDONED: S.NOT_EXECUTED,
        K.WINDOW_CLOSED: S.EXPIRED,
    },
    S.SUBMITTED: {
        K.ACCEPTED: DUP,
        K.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        K.FILLED: S.FILLED,
        K.CANCELED: S.CANCELED,
        K.EXPIRED: S.EXPIRED,
        K.REJECTED: S.REJECTED,
    },
    S.PARTIALLY_FILLED: {
        K.ACCEPTED: STALE,
        K.PARTIALLY_FILLED: S.PARTIALLY_FILLED,
        K.FILLED: S.FILLED,
        K.CANCELED: S.CANCELED,
        K.EXPIRED: S.EXPIRED,
    },
    S.FILLED: {K.ACCEPTED: STALE},
    S.CANCELED: {K.ACCEPTED: STALE, K.CANCELED: DUP},
    S.EXPIRED: {K.ACCEPTED: STALE, K.EXPIRED: DUP, K.WINDOW_CLOSED: DUP},
    S.REJECTED: {K.ACCEPTED: STALE, K.REJECTED: DUP},
    S.NOT_EXECUTED: {K.ABANDONED: DUP},
}

KNOWN_FILLED = {
    S.PARTIALLY_FILLED: Decimal(3),
    S.FILLED: Decimal(10),
    S.CANCELED: Decimal(3),
    S.EXPIRED: Decimal(3),
}


def make_order(status: OrderStatus = S.PENDING_SUBMIT, filled: Decimal | None = None) -> Order:
    filled_qty = KNOWN_FILLED.get(status, Decimal(0)) if filled is None else filled
    at_broker = status not in (S.PENDING_SUBMIT, S.NOT_EXECUTED)
    return Order(
        run_id="run1",
        leg="000.sell.AAPL",
        client_order_id="rebal-run1-000.sell.AAPL",
        symbol="AAPL",
        side=OrderSide.SELL,
        qty=Decimal(10),
        notional=None,
        status=status,
        broker_order_id="B1" if at_broker else None,
        filled_qty=filled_qty,
        filled_avg_price=Decimal("100") if filled_qty else None,
    )


def event_for(order: Order, kind: OrderEventKind) -> OrderEvent:
    if kind in UNSENT:
        return OrderEvent(kind, AT, reason="never sent")
    if kind in (K.PARTIALLY_FILLED, K.FILLED):
        # one share more than known, so the duplicate rule does not decide the cell
        return OrderEvent(kind, AT, "B1", order.filled_qty + 1, Decimal("101"))
    return OrderEvent(kind, AT, "B1", order.filled_qty, order.filled_avg_price, reason="why")


@pytest.mark.parametrize(("status", "kind"), list(product(OrderStatus, OrderEventKind)))
def test_every_cell_of_the_transition_table(status: OrderStatus, kind: OrderEventKind) -> None:
    order = make_order(status)
    expected = EXPECTED[status].get(kind, ApplyOutcome.ILLEGAL)

    transition = order.apply(event_for(order, kind))

    if isinstance(expected, OrderStatus):
        assert transition.outcome is ApplyOutcome.APPLIED
        assert transition.order.status is expected
        assert transition.order.broker_order_id == (None if kind in UNSENT else "B1")
    else:
        assert transition.outcome is expected
        assert transition.order is order
        assert transition.facts == ()


def test_table_has_no_rows_beyond_the_expected_ones() -> None:
    expected_cells = {(s, k) for s, row in EXPECTED.items() for k in row}
    assert set(TRANSITIONS) == expected_cells


def test_terminal_statuses_are_exactly_the_final_ones() -> None:
    terminal = {s for s in OrderStatus if s.is_terminal}
    assert terminal == {S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.NOT_EXECUTED}


@pytest.mark.parametrize("known", [Decimal(3), Decimal(2)])
def test_fill_not_above_known_cumulative_is_a_duplicate(known: Decimal) -> None:
    order = make_order(S.PARTIALLY_FILLED, filled=Decimal(3))
    report = OrderEvent(K.PARTIALLY_FILLED, AT, "B1", known, Decimal("99"))

    transition = order.apply(report)

    assert transition.outcome is ApplyOutcome.DUPLICATE
    assert transition.order == order
    assert transition.facts == ()


def test_late_fill_report_after_filled_is_a_duplicate_not_illegal() -> None:
    filled = make_order(S.FILLED)
    late = OrderEvent(K.PARTIALLY_FILLED, AT, "B1", Decimal(4), Decimal("100"))
    assert filled.apply(late).outcome is ApplyOutcome.DUPLICATE


def test_new_partial_fill_emits_cumulative_fact_with_new_york_trade_date() -> None:
    order = make_order(S.SUBMITTED)
    evening_utc = datetime(2024, 3, 8, 1, 30, tzinfo=UTC)  # 20:30 on the 7th in New York
    report = OrderEvent(K.PARTIALLY_FILLED, evening_utc, "B1", Decimal(4), Decimal("100.50"))

    transition = order.apply(report)

    assert transition.order.status is S.PARTIALLY_FILLED
    assert transition.order.filled_qty == Decimal(4)
    (fact,) = transition.facts
    assert isinstance(fact, OrderFilled)
    assert (fact.filled_qty, fact.filled_avg_price) == (Decimal(4), Decimal("100.50"))
    assert fact.trade_date == date(2024, 3, 7)
    assert fact.is_final is False
    assert fact.dedupe_key == "rebal-run1-000.sell.AAPL:filled:4"


def test_filled_at_the_known_quantity_completes_a_partially_filled_order() -> None:
    # e.g. a `calculated` snapshot showed all 10 shares while the status was still open
    order = make_order(S.PARTIALLY_FILLED, filled=Decimal(10))
    transition = order.apply(OrderEvent(K.FILLED, AT, "B1", Decimal(10), Decimal("100")))

    assert transition.outcome is ApplyOutcome.APPLIED
    assert transition.order.status is S.FILLED
    (fact,) = transition.facts
    assert isinstance(fact, OrderFilled)
    assert (fact.filled_qty, fact.is_final) == (Decimal(10), True)
    assert fact.dedupe_key == f"{order.client_order_id}:filled:10:final"
    # and only once: the same report again is a duplicate
    assert (
        transition.order.apply(OrderEvent(K.FILLED, AT, "B1", Decimal(10), Decimal("100"))).outcome
        is ApplyOutcome.DUPLICATE
    )


def test_final_fill_is_marked_final_and_closes_nothing() -> None:
    transition = make_order(S.PARTIALLY_FILLED).apply(
        OrderEvent(K.FILLED, AT, "B1", Decimal(10), Decimal("100.2"))
    )
    (fact,) = transition.facts
    assert isinstance(fact, OrderFilled)
    assert fact.is_final is True
    assert transition.order.closed_at == AT


def test_cancel_of_partially_filled_order_reports_quantity_at_close() -> None:
    transition = make_order(S.PARTIALLY_FILLED).apply(
        OrderEvent(K.CANCELED, AT, "B1", Decimal(3), Decimal("100"), reason="canceled by run")
    )
    (fact,) = transition.facts
    assert isinstance(fact, OrderClosed)
    assert fact.reason is CloseReason.CANCELED
    assert (fact.filled_qty, fact.detail, fact.closed_at) == (Decimal(3), "canceled by run", AT)


def test_terminal_report_carrying_an_unseen_fill_emits_fill_then_close() -> None:
    transition = make_order(S.SUBMITTED).apply(
        OrderEvent(K.EXPIRED, AT, "B1", Decimal(6), Decimal("98"))
    )
    filled, closed = transition.facts
    assert isinstance(filled, OrderFilled)
    assert isinstance(closed, OrderClosed)
    assert filled.filled_qty == closed.filled_qty == Decimal(6)
    assert closed.reason is CloseReason.EXPIRED
    assert filled.is_final is False


@pytest.mark.parametrize(
    ("kind", "close_reason"),
    # an abandoned leg (a run cancel kept it from being sent) is published as canceled, one the
    # execution window closed on before it was sent as expired
    [
        (K.REJECTED, CloseReason.REJECTED),
        (K.ABANDONED, CloseReason.CANCELED),
        (K.WINDOW_CLOSED, CloseReason.EXPIRED),
    ],
)
def test_closing_an_unsent_intent(kind: OrderEventKind, close_reason: CloseReason) -> None:
    order = make_order()
    transition = order.apply(event_for(order, kind))
    (fact,) = transition.facts
    assert isinstance(fact, OrderClosed)
    assert fact.reason is close_reason
    assert fact.filled_qty == 0
    assert fact.dedupe_key == f"{order.client_order_id}:closed"


@pytest.mark.parametrize(
    ("status", "kind", "by_cancel"),
    [
        (S.SUBMITTED, K.CANCELED, True),  # the broker's cancel of an open order
        (S.PARTIALLY_FILLED, K.CANCELED, True),
        (S.PENDING_SUBMIT, K.CANCELED, True),  # a lookup at the cancel found it canceled
        (S.PENDING_SUBMIT, K.ABANDONED, True),
        (S.SUBMITTED, K.EXPIRED, False),  # a close a cancel did not bring
        (S.SUBMITTED, K.REJECTED, False),
        (S.PENDING_SUBMIT, K.WINDOW_CLOSED, False),
    ],
)
def test_a_close_after_the_run_cancel_says_whether_the_cancel_brought_it(
    status: OrderStatus, kind: OrderEventKind, by_cancel: bool
) -> None:
    order = make_order(status)
    transition = order.apply(event_for(order, kind), run_canceled=True)
    closed = transition.facts[-1]
    assert isinstance(closed, OrderClosed)
    assert transition.order.closed_by_run_cancel is closed.run_canceled is by_cancel
    (again,) = [f for f in transition.order.current_facts() if isinstance(f, OrderClosed)]
    assert again.run_canceled is by_cancel  # derived again (a re-report): the same


def test_a_cancel_without_a_run_cancel_is_not_the_runs() -> None:
    order = make_order(S.SUBMITTED)
    (closed,) = order.apply(event_for(order, K.CANCELED)).facts
    assert isinstance(closed, OrderClosed) and closed.run_canceled is False


def test_fill_beyond_ordered_quantity_is_illegal() -> None:
    report = OrderEvent(K.PARTIALLY_FILLED, AT, "B1", Decimal(11), Decimal("100"))
    assert make_order(S.SUBMITTED).apply(report).outcome is ApplyOutcome.ILLEGAL


def test_fill_without_price_is_illegal() -> None:
    report = OrderEvent(K.FILLED, AT, "B1", Decimal(10), None)
    assert make_order(S.SUBMITTED).apply(report).outcome is ApplyOutcome.ILLEGAL


def test_report_for_another_broker_order_is_illegal() -> None:
    report = OrderEvent(K.FILLED, AT, "OTHER", Decimal(10), Decimal("1"))
    assert make_order(S.SUBMITTED).apply(report).outcome is ApplyOutcome.ILLEGAL


def test_notional_order_accepts_any_positive_fill_quantity() -> None:
    order = replace(make_order(S.SUBMITTED), qty=None, notional=Decimal("250.00"))
    report = OrderEvent(K.FILLED, AT, "B1", Decimal("2.4937"), Decimal("100.25"))
    assert order.apply(report).order.status is S.FILLED


def test_event_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OrderEvent(K.ACCEPTED, datetime(2024, 7, 1, 14, 30), "B1")
    with pytest.raises(ValueError, match="broker order id"):
        OrderEvent(K.FILLED, AT, None, Decimal(1), Decimal(1))
    with pytest.raises(ValueError, match="abandoned"):
        OrderEvent(K.ABANDONED, AT, "B1")
    with pytest.raises(ValueError, match="window_closed"):
        OrderEvent(K.WINDOW_CLOSED, AT, "B1")
    with pytest.raises(ValueError, match="filled_qty"):
        OrderEvent(K.CANCELED, AT, "B1", Decimal(-1))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=12),
    st.randoms(use_true_random=False),
)
def test_reordered_and_redelivered_fills_converge(cumulative: list[int], rnd: object) -> None:
    """Whatever the arrival order and duplication, the order ends at the highest cumulative
    quantity and publishes strictly increasing cumulative fills, one per increase."""
    reports = [
        OrderEvent(K.PARTIALLY_FILLED, AT, "B1", Decimal(q), Decimal("100")) for q in cumulative
    ]
    reports = reports + reports[: len(reports) // 2]  # redeliveries
    rnd.shuffle(reports)  # type: ignore[attr-defined]
    order = make_order(S.SUBMITTED)
    published: list[Decimal] = []
    for report in reports:
        transition = order.apply(report)
        order = transition.order
        published += [f.filled_qty for f in transition.facts if isinstance(f, OrderFilled)]

    assert order.filled_qty == max(cumulative)
    assert published == sorted(set(published))
    assert published[-1] == max(cumulative)
