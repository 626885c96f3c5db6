"""What run.completed (and run.settled) report: run status, outcome per order, cash and holdings
deltas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from rebal_settlement_tracker.domain.lifecycle import RunStatus
from rebal_settlement_tracker.domain.order_ref import OrderRef
from rebal_settlement_tracker.domain.plan import RunTerms, SkippedOrder
from rebal_settlement_tracker.domain.stop import RunStop
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    CloseReason,
    Side,
    Transaction,
    TransactionStatus,
)

__all__ = [  # RunStatus is re-exported: its home was here
    "OrderOutcome",
    "OrderStatus",
    "RunCompletion",
    "RunStatus",
    "build_completion",
    "decide_status",
    "holdings_delta",
    "leg_cash_amount",
    "order_ref",
    "order_status",
    "outcome_of",
]

CENT: Final = Decimal("0.01")


class OrderStatus(StrEnum):
    """The Alpaca order status a run's order is reported in (a subset of Alpaca's)."""

    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


_CLOSED_AS: Final = {
    CloseReason.REJECTED: OrderStatus.REJECTED,
    CloseReason.EXPIRED: OrderStatus.EXPIRED,
    CloseReason.CANCELED: OrderStatus.CANCELED,
    # ours: the intent was abandoned before the broker had it; Alpaca would show it canceled
    CloseReason.NOT_EXECUTED: OrderStatus.CANCELED,
}


def order_status(tx: Transaction) -> OrderStatus:
    if tx.is_fully_executed:
        return OrderStatus.FILLED
    if tx.is_closed and tx.close_reason is not None:
        return _CLOSED_AS[tx.close_reason]
    return OrderStatus.PARTIALLY_FILLED if tx.fill is not None else OrderStatus.NEW


@dataclass(frozen=True)
class OrderOutcome:
    leg: int
    symbol: str
    side: Side
    planned_qty: Decimal | None
    planned_notional: Decimal | None
    filled_qty: Decimal
    avg_price: Decimal | None
    status: TransactionStatus
    reason: str | None  # close reason (rejected, expired, canceled, not_executed) when closed
    trade_date: date | None
    settled_on: date | None
    order_status: OrderStatus = OrderStatus.NEW
    client_order_id: str | None = None
    broker_order_id: str | None = None
    filled_at: datetime | None = None  # when it filled completely
    closed_at: datetime | None = None  # when it ended without a (full) fill
    updated_at: datetime | None = None  # its latest report


@dataclass(frozen=True)
class RunCompletion:
    run_id: str
    portfolio_id: str
    terms: RunTerms
    status: RunStatus
    reason: str | None
    orders: tuple[OrderOutcome, ...]  # by leg
    skipped_orders: tuple[SkippedOrder, ...]
    cash_delta: Decimal  # sells add, buys subtract; each leg rounded to cents
    holdings_delta: Mapping[str, Decimal]  # by symbol, non-zero only
    last_execution_at: datetime | None

    @property
    def executed(self) -> tuple[OrderOutcome, ...]:
        """Alpaca `orders`: the orders with any fill."""
        return tuple(o for o in self.orders if o.filled_qty > ZERO)

    @property
    def failed(self) -> tuple[OrderOutcome, ...]:
        """Alpaca `failed_orders`: the orders that ended without any fill."""
        return tuple(o for o in self.orders if o.filled_qty == ZERO)


def leg_cash_amount(tx: Transaction) -> Decimal:
    """Signed cash effect of one leg: filled qty times average price, rounded half-up to cents.

    Rounded per leg because each trade is booked in cents by the broker.
    """
    if tx.fill is None:
        return ZERO
    gross = (tx.fill.cum_qty * tx.fill.avg_price).quantize(CENT, rounding=ROUND_HALF_UP)
    return gross if tx.side is Side.SELL else -gross


def holdings_delta(transactions: Iterable[Transaction]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for tx in transactions:
        signed = tx.filled_qty if tx.side is Side.BUY else -tx.filled_qty
        totals[tx.symbol] = totals.get(tx.symbol, ZERO) + signed
    return {symbol: totals[symbol] for symbol in sorted(totals) if totals[symbol] != ZERO}


def decide_status(
    transactions: Iterable[Transaction], skipped: tuple[SkippedOrder, ...], stop: RunStop | None
) -> tuple[RunStatus, str | None]:
    """Run status once every order is final.

    COMPLETED_SUCCESS: every order executed fully and nothing was skipped.
    ERROR: there were orders and none executed at all (all rejected, expired, not executed or
    cancelled) — the run achieved nothing, which Alpaca reports as an error rather than a
    partial rebalance.
    COMPLETED_ADJUSTED: anything in between, including a plan with only skipped orders.
    CANCELED / CANCELED_MID_RUN / TIMEOUT: the run was stopped (`RunStop.status` says which).
    """
    txs = list(transactions)
    executed = [tx for tx in txs if tx.filled_qty > ZERO]
    if stop is not None:
        return stop.status(len(executed))
    if txs and not executed:
        return RunStatus.ERROR, f"none of the {len(txs)} order(s) executed"
    partial = sum(1 for tx in executed if not tx.is_fully_executed)
    failed = len(txs) - len(executed)
    if partial == 0 and failed == 0 and not skipped:
        return RunStatus.COMPLETED_SUCCESS, None
    counts = ((partial, "partially executed"), (failed, "not executed"), (len(skipped), "skipped"))
    return RunStatus.COMPLETED_ADJUSTED, ", ".join(
        f"{count} order(s) {what}" for count, what in counts if count
    )


def order_ref(tx: Transaction) -> OrderRef | None:
    """The order's ids, as far as its fill and close reported them."""
    refs = [fact.ref for fact in (tx.fill, tx.close) if fact is not None and fact.ref]
    return refs[0].join(refs[1]) if len(refs) == 2 else (refs[0] if refs else None)


def outcome_of(tx: Transaction) -> OrderOutcome:
    ref = order_ref(tx)
    closed_at = tx.close.closed_at if tx.close is not None and tx.is_closed else None
    reports = [moment for moment in (tx.executed_at, closed_at) if moment is not None]
    return OrderOutcome(
        leg=tx.leg,
        symbol=tx.symbol,
        side=tx.side,
        planned_qty=tx.planned_qty,
        planned_notional=tx.planned_notional,
        filled_qty=tx.filled_qty,
        avg_price=tx.avg_price,
        status=tx.status,
        reason=_close_reason(tx),
        trade_date=tx.trade_date,
        settled_on=tx.settled_on,
        order_status=order_status(tx),
        client_order_id=ref.client_order_id if ref else None,
        broker_order_id=ref.broker_order_id if ref else None,
        filled_at=tx.executed_at if tx.is_fully_executed else None,
        closed_at=closed_at,
        updated_at=max(reports, default=None),
    )


def _close_reason(tx: Transaction) -> str | None:
    """The close reason (rejected, expired, ...), and the tracker's note when it closed the leg."""
    if not tx.is_closed or tx.close is None:
        return None
    reason = tx.close.reason.value
    return f"{reason}: {tx.close.note}" if tx.close.note else reason


def build_completion(
    *,
    run_id: str,
    portfolio_id: str,
    terms: RunTerms,
    transactions: Iterable[Transaction],
    skipped: tuple[SkippedOrder, ...],
    stop: RunStop | None,
) -> RunCompletion:
    txs = sorted(transactions, key=lambda tx: tx.leg)
    status, reason = decide_status(txs, skipped, stop)
    executions = [tx.executed_at for tx in txs if tx.executed_at is not None]
    return RunCompletion(
        run_id=run_id,
        portfolio_id=portfolio_id,
        terms=terms,
        status=status,
        reason=reason,
        orders=tuple(outcome_of(tx) for tx in txs),
        skipped_orders=skipped,
        cash_delta=sum((leg_cash_amount(tx) for tx in txs), ZERO).quantize(CENT),
        holdings_delta=holdings_delta(txs),
        last_execution_at=max(executions, default=None),
    )
