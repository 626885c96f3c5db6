"""One broker order as a state machine: a transition table plus `Order.apply` (nautilus style).

Every (status, event kind) pair is either in TRANSITIONS (a move, or an explicit no-op:
DUPLICATE / STALE) or absent (ILLEGAL). On top of the table one rule guards executions: a fill
report whose cumulative quantity is not above the known one carries nothing new (DUPLICATE),
whatever the status, because reports are redelivered and arrive out of order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import StrEnum

from rebal_order_router.domain.events import FILL_KINDS, OrderEvent, OrderEventKind
from rebal_order_router.domain.facts import OrderClosed, OrderFact, OrderFilled
from rebal_order_router.domain.values import (
    CLOSE_REASON_BY_STATUS,
    NEW_YORK,
    OrderSide,
    OrderStatus,
    trade_date_of,
)


class ApplyOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # the same information again: no-op
    STALE = "stale"  # older information than what is known: no-op
    ILLEGAL = "illegal"  # contradicts what is known: no-op, the caller should log/alert


S, K, A = OrderStatus, OrderEventKind, ApplyOutcome

TRANSITIONS: dict[tuple[OrderStatus, OrderEventKind], OrderStatus | ApplyOutcome] = {
    # A lookup after a timeout can reveal any broker state, so every broker report is legal here.
    (S.PENDING_SUBMIT, K.ACCEPTED): S.SUBMITTED,
    (S.PENDING_SUBMIT, K.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.PENDING_SUBMIT, K.FILLED): S.FILLED,
    (S.PENDING_SUBMIT, K.CANCELED): S.CANCELED,
    (S.PENDING_SUBMIT, K.EXPIRED): S.EXPIRED,
    (S.PENDING_SUBMIT, K.REJECTED): S.REJECTED,
    (S.PENDING_SUBMIT, K.ABANDONED): S.NOT_EXECUTED,
    (S.PENDING_SUBMIT, K.WINDOW_CLOSED): S.EXPIRED,
    (S.SUBMITTED, K.ACCEPTED): A.DUPLICATE,
    (S.SUBMITTED, K.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.SUBMITTED, K.FILLED): S.FILLED,
    (S.SUBMITTED, K.CANCELED): S.CANCELED,
    (S.SUBMITTED, K.EXPIRED): S.EXPIRED,
    (S.SUBMITTED, K.REJECTED): S.REJECTED,
    (S.PARTIALLY_FILLED, K.ACCEPTED): A.STALE,
    (S.PARTIALLY_FILLED, K.PARTIALLY_FILLED): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, K.FILLED): S.FILLED,
    (S.PARTIALLY_FILLED, K.CANCELED): S.CANCELED,  # the unfilled rest was canceled
    (S.PARTIALLY_FILLED, K.EXPIRED): S.EXPIRED,  # a day order expires with its rest
    (S.FILLED, K.ACCEPTED): A.STALE,
    (S.CANCELED, K.ACCEPTED): A.STALE,
    (S.CANCELED, K.CANCELED): A.DUPLICATE,
    (S.EXPIRED, K.ACCEPTED): A.STALE,
    (S.EXPIRED, K.EXPIRED): A.DUPLICATE,
    (S.EXPIRED, K.WINDOW_CLOSED): A.DUPLICATE,
    (S.REJECTED, K.ACCEPTED): A.STALE,
    (S.REJECTED, K.REJECTED): A.DUPLICATE,
    (S.NOT_EXECUTED, K.ABANDONED): A.DUPLICATE,
}

del S, K, A

# The closes a run cancel brings about: the broker's cancel of an open order, a leg never sent.
_CANCEL_CLOSES = frozenset({OrderStatus.CANCELED, OrderStatus.NOT_EXECUTED})


@dataclass(frozen=True)
class OrderTransition:
    """Result of `Order.apply`: the (possibly unchanged) order, the outcome, facts to publish."""

    order: Order
    outcome: ApplyOutcome
    facts: tuple[OrderFact, ...] = ()
    note: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome is ApplyOutcome.APPLIED


@dataclass(frozen=True)
class Order:
    """One leg of a run: the stored intent and everything the broker has told us about it."""

    run_id: str
    leg: str
    client_order_id: str
    symbol: str
    side: OrderSide
    qty: Decimal | None
    notional: Decimal | None
    status: OrderStatus = OrderStatus.PENDING_SUBMIT
    broker_order_id: str | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    last_fill_at: datetime | None = None
    closed_at: datetime | None = None
    close_detail: str = ""
    expected_price: Decimal | None = None  # the plan's price, re-checked at a queued start
    # closed because its run was canceled (order.closed `run_canceled`): the run's end is then
    # its run.execution_stopped, which a consumer may read after this close
    closed_by_run_cancel: bool = False

    def apply(
        self, event: OrderEvent, market_tz: tzinfo = NEW_YORK, *, run_canceled: bool = False
    ) -> OrderTransition:
        """Apply one report; never raises for bad input, the outcome says what happened.
        `run_canceled`: the order's run was canceled, so a cancel the report brings is the
        run's (`closed_by_run_cancel`)."""
        if (
            event.broker_order_id is not None
            and self.broker_order_id is not None
            and event.broker_order_id != self.broker_order_id
        ):
            return self._unchanged(ApplyOutcome.ILLEGAL, "report for another broker order")
        if (
            event.kind in FILL_KINDS
            and event.filled_qty <= self.filled_qty
            and not self._completes_at_known_quantity(event)
        ):
            return self._unchanged(ApplyOutcome.DUPLICATE, "no new cumulative quantity")
        rule = TRANSITIONS.get((self.status, event.kind))
        if rule is None:
            return self._unchanged(ApplyOutcome.ILLEGAL, f"{event.kind} while {self.status}")
        if isinstance(rule, ApplyOutcome):
            return self._unchanged(rule, f"{event.kind} while {self.status}")
        has_new_fill = event.filled_qty > self.filled_qty
        if has_new_fill:
            problem = self._fill_problem(event)
            if problem:
                return self._unchanged(ApplyOutcome.ILLEGAL, problem)
        return self._move_to(rule, event, has_new_fill, market_tz, run_canceled)

    def _completes_at_known_quantity(self, event: OrderEvent) -> bool:
        """A FILLED report at the cumulative quantity already known still says something new:
        no more fills will come (e.g. a `calculated` snapshot already showed the full quantity
        while the status was open). Without this the order would stay PARTIALLY_FILLED forever."""
        return (
            event.kind is OrderEventKind.FILLED
            and self.status is OrderStatus.PARTIALLY_FILLED
            and event.filled_qty == self.filled_qty
        )

    def _fill_problem(self, event: OrderEvent) -> str:
        if event.filled_avg_price is None or event.filled_avg_price <= 0:
            return "fill without a positive average price"
        if self.qty is not None and event.filled_qty > self.qty:
            return f"filled {event.filled_qty} exceeds ordered {self.qty}"
        return ""

    def _move_to(
        self,
        target: OrderStatus,
        event: OrderEvent,
        has_new_fill: bool,
        market_tz: tzinfo,
        run_canceled: bool,
    ) -> OrderTransition:
        moved = replace(
            self,
            status=target,
            broker_order_id=self.broker_order_id or event.broker_order_id,
            filled_qty=event.filled_qty if has_new_fill else self.filled_qty,
            filled_avg_price=event.filled_avg_price if has_new_fill else self.filled_avg_price,
            last_fill_at=event.at if has_new_fill else self.last_fill_at,
            closed_at=event.at if target.is_terminal else None,
            close_detail=event.reason if target in CLOSE_REASON_BY_STATUS else "",
            closed_by_run_cancel=run_canceled and target in _CANCEL_CLOSES,
        )
        facts: list[OrderFact] = []
        if has_new_fill or target is OrderStatus.FILLED:
            facts.append(moved._filled_fact(event.at, market_tz))
        if target in CLOSE_REASON_BY_STATUS:
            facts.append(moved._closed_fact(event.at))
        return OrderTransition(moved, ApplyOutcome.APPLIED, tuple(facts))

    def _filled_fact(self, filled_at: datetime, market_tz: tzinfo) -> OrderFilled:
        assert self.filled_avg_price is not None  # guaranteed by _fill_problem
        return OrderFilled(
            run_id=self.run_id,
            leg=self.leg,
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            symbol=self.symbol,
            side=self.side,
            filled_qty=self.filled_qty,
            filled_avg_price=self.filled_avg_price,
            filled_at=filled_at,
            trade_date=trade_date_of(filled_at, market_tz),
            is_final=self.status is OrderStatus.FILLED,
        )

    def _closed_fact(self, closed_at: datetime) -> OrderClosed:
        return OrderClosed(
            run_id=self.run_id,
            leg=self.leg,
            client_order_id=self.client_order_id,
            broker_order_id=self.broker_order_id,
            symbol=self.symbol,
            side=self.side,
            reason=CLOSE_REASON_BY_STATUS[self.status],
            detail=self.close_detail,
            filled_qty=self.filled_qty,
            filled_avg_price=self.filled_avg_price,
            closed_at=closed_at,
            run_canceled=self.closed_by_run_cancel,
        )

    def current_facts(self, market_tz: tzinfo = NEW_YORK) -> tuple[OrderFact, ...]:
        """What the order's state says was published, derived again: its cumulative fill (if
        any) and its close (if closed). Same dedupe keys as the first time, hence the same event
        ids: a consumer that saw them drops the copies (re-reporting after a broker lost data)."""
        facts: list[OrderFact] = []
        if self.filled_qty > 0 and self.filled_avg_price is not None:
            filled_at = self.last_fill_at or self.closed_at
            if filled_at is not None:
                facts.append(self._filled_fact(filled_at, market_tz))
        if self.status in CLOSE_REASON_BY_STATUS and self.closed_at is not None:
            facts.append(self._closed_fact(self.closed_at))
        return tuple(facts)

    def _unchanged(self, outcome: ApplyOutcome, note: str) -> OrderTransition:
        return OrderTransition(self, outcome, (), note)
