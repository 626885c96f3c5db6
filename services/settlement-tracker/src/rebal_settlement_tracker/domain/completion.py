"""What run.completed reports: run status, outcome per order, cash and holdings deltas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final

from rebal_settlement_tracker.domain.plan import SkippedOrder
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    Side,
    Transaction,
    TransactionStatus,
    UnblockOn,
)

CENT: Final = Decimal("0.01")


class RunStatus(StrEnum):
    """Alpaca run statuses (TIMEOUT is not produced: rebal never gives up on a run by itself)."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED_SUCCESS = "COMPLETED_SUCCESS"
    COMPLETED_ADJUSTED = "COMPLETED_ADJUSTED"
    ERROR = "ERROR"
    CANCELED = "CANCELED"
    CANCELED_MID_RUN = "CANCELED_MID_RUN"


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


@dataclass(frozen=True)
class RunCompletion:
    run_id: str
    portfolio_id: str
    run_type: str | None
    broker_integration: str | None
    status: RunStatus
    reason: str | None
    unblock_on: UnblockOn
    orders: tuple[OrderOutcome, ...]  # by leg
    skipped_orders: tuple[SkippedOrder, ...]
    cash_delta: Decimal  # sells add, buys subtract; each leg rounded to cents
    holdings_delta: Mapping[str, Decimal]  # by symbol, non-zero only
    last_execution_at: datetime | None


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
    transactions: Iterable[Transaction], skipped: tuple[SkippedOrder, ...], canceled: bool
) -> tuple[RunStatus, str | None]:
    """Run status once every transaction is final.

    COMPLETED_SUCCESS: every order executed fully and nothing was skipped.
    ERROR: there were orders and none executed at all (all rejected, expired, not executed or
    cancelled) — the run achieved nothing, which Alpaca reports as an error rather than a
    partial rebalance.
    COMPLETED_ADJUSTED: anything in between, including a plan with only skipped orders.
    CANCELED / CANCELED_MID_RUN: the run was canceled; MID_RUN when some quantity executed.
    """
    txs = list(transactions)
    executed = [tx for tx in txs if tx.filled_qty > ZERO]
    if canceled:
        if executed:
            return RunStatus.CANCELED_MID_RUN, f"canceled after {len(executed)} order(s) executed"
        return RunStatus.CANCELED, "canceled before any order executed"
    if txs and not executed:
        return RunStatus.ERROR, f"none of the {len(txs)} order(s) executed"
    partial = sum(1 for tx in executed if not tx.is_fully_executed)
    failed = len(txs) - len(executed)
    if partial == 0 and failed == 0 and not skipped:
        return RunStatus.COMPLETED_SUCCESS, None
    return (
        RunStatus.COMPLETED_ADJUSTED,
        f"{partial} partially executed, {failed} not executed, {len(skipped)} skipped",
    )


def outcome_of(tx: Transaction) -> OrderOutcome:
    return OrderOutcome(
        leg=tx.leg,
        symbol=tx.symbol,
        side=tx.side,
        planned_qty=tx.planned_qty,
        planned_notional=tx.planned_notional,
        filled_qty=tx.filled_qty,
        avg_price=tx.avg_price,
        status=tx.status,
        reason=tx.close_reason.value if tx.is_closed and tx.close_reason else None,
        trade_date=tx.trade_date,
        settled_on=tx.settled_on,
    )


def build_completion(
    *,
    run_id: str,
    portfolio_id: str,
    run_type: str | None,
    broker_integration: str | None,
    transactions: Iterable[Transaction],
    skipped: tuple[SkippedOrder, ...],
    canceled: bool,
    unblock_on: UnblockOn,
) -> RunCompletion:
    txs = sorted(transactions, key=lambda tx: tx.leg)
    status, reason = decide_status(txs, skipped, canceled)
    executions = [tx.executed_at for tx in txs if tx.executed_at is not None]
    return RunCompletion(
        run_id=run_id,
        portfolio_id=portfolio_id,
        run_type=run_type,
        broker_integration=broker_integration,
        status=status,
        reason=reason,
        unblock_on=unblock_on,
        orders=tuple(outcome_of(tx) for tx in txs),
        skipped_orders=skipped,
        cash_delta=sum((leg_cash_amount(tx) for tx in txs), ZERO).quantize(CENT),
        holdings_delta=holdings_delta(txs),
        last_execution_at=max(executions, default=None),
    )
