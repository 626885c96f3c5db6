"""The Run aggregate: one per ready optimization (run id = optimization id).

The run stores FACTS — the plan, the best-known cumulative fill and close per leg, settlement
dates — and derives each Transaction by replaying them in a fixed order (fill, close, settle)
through the transaction state machine. Facts are merged with joins (see ``facts.py``), so any
permutation of the same events, duplicates included, gives the same transactions and the same
RunCompletion.

Every fact must pass the checks of ``acceptance.py`` against its order. Fills and closes that
arrive before the plan cannot be checked yet: each is kept as it came (``pending``, not merged, so
that a forged large fill cannot swallow the real smaller ones), and judged when the plan arrives;
the accepted ones are merged, the others recorded in ``rejections`` for the caller to report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Final

from rebal_settlement_tracker.domain.acceptance import (
    AcceptancePolicy,
    FactKind,
    FactSource,
    PendingFact,
    Rejection,
    accept,
    judge_pending,
    keep_pending,
)
from rebal_settlement_tracker.domain.completion import RunCompletion, RunStatus, build_completion
from rebal_settlement_tracker.domain.errors import (
    DuplicateCancel,
    DuplicateClose,
    DuplicateFill,
    DuplicatePlan,
    IllegalTransition,
    InvalidEvent,
    RunAlreadyCompleted,
)
from rebal_settlement_tracker.domain.facts import merge_close, merge_fill
from rebal_settlement_tracker.domain.plan import PlannedOrder, SkippedOrder
from rebal_settlement_tracker.domain.settlement import (
    SettlementCycles,
    TradingCalendar,
    settlement_date,
)
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    CloseReason,
    OrderClosed,
    OrderFilled,
    Transaction,
    TransactionSettled,
    UnblockOn,
)

DEFAULT_POLICY: Final = AcceptancePolicy()


@dataclass(frozen=True)
class Run:
    """Immutable: every command returns a new Run."""

    run_id: str
    portfolio_id: str
    run_type: str | None = None
    broker_integration: str | None = None
    account_id: str | None = None  # from optimization.ready, reported in run.completed
    orders: tuple[PlannedOrder, ...] | None = None  # None until optimization.ready
    skipped_orders: tuple[SkippedOrder, ...] = ()
    fills: Mapping[int, OrderFilled] = field(default_factory=dict)
    closes: Mapping[int, OrderClosed] = field(default_factory=dict)
    settlements: Mapping[int, date] = field(default_factory=dict)
    pending: tuple[PendingFact, ...] = ()  # facts received before the plan, not yet judged
    rejections: tuple[Rejection, ...] = ()  # early facts the plan refused
    canceled_at: datetime | None = None
    canceled_before_execution: bool = False
    completed: bool = False
    final_status: RunStatus | None = None

    # ---- derived state -------------------------------------------------------------------

    @property
    def is_planned(self) -> bool:
        return self.orders is not None

    @cached_property
    def transactions(self) -> Mapping[int, Transaction]:
        """Transactions by leg (empty until the plan is known)."""
        return {order.leg: self._derive(order) for order in self.orders or ()}

    @property
    def status(self) -> RunStatus:
        if self.final_status is not None:
            return self.final_status
        started = self.fills or self.closes or self.pending
        return RunStatus.IN_PROGRESS if started else RunStatus.QUEUED

    @property
    def executed_anything(self) -> bool:
        early = any(p.fact.cum_qty > ZERO for p in self.pending)
        return early or bool(self.fills) or any(c.cum_qty > ZERO for c in self.closes.values())

    def _derive(self, order: PlannedOrder) -> Transaction:
        tx = Transaction.planned(
            order.leg,
            order.symbol,
            order.side,
            qty=order.qty,
            notional=order.notional,
            asset_class=order.asset_class,
        )
        fill = self.fills.get(order.leg)
        if fill is not None:
            tx = tx.apply(fill)
        close = self.closes.get(order.leg) or self._cancel_close()
        if close is not None and not tx.is_fully_executed:
            tx = tx.apply(close)
        settled_on = self.settlements.get(order.leg)
        if settled_on is not None:
            tx = tx.apply(TransactionSettled(settled_on))
        return tx

    def _cancel_close(self) -> OrderClosed | None:
        # A run canceled before anything executed closes its open legs at once (Alpaca CANCELED).
        if self.canceled_at is None or not self.canceled_before_execution:
            return None
        return OrderClosed(CloseReason.CANCELED, ZERO, self.canceled_at)

    # ---- commands ------------------------------------------------------------------------

    def plan(
        self,
        orders: Sequence[PlannedOrder],
        skipped: Sequence[SkippedOrder] = (),
        *,
        run_type: str | None = None,
        broker_integration: str | None = None,
        account_id: str | None = None,
        policy: AcceptancePolicy = DEFAULT_POLICY,
    ) -> Run:
        """Record the plan of optimization.ready; facts received earlier are judged now: the
        accepted ones apply, the refused ones are added to ``rejections``."""
        ordered = tuple(sorted(orders, key=lambda order: order.leg))
        if len({order.leg for order in ordered}) != len(ordered):
            raise InvalidEvent(f"run {self.run_id}: duplicate legs in plan")
        planned = replace(
            self,
            orders=ordered,
            skipped_orders=tuple(skipped),
            run_type=run_type,
            broker_integration=broker_integration,
            account_id=account_id,
        )
        if self.orders is not None:
            if planned == self:
                raise DuplicatePlan(f"run {self.run_id}: plan already known")
            raise IllegalTransition(f"run {self.run_id}: a different plan is already known")
        # (Fills and closes known before the plan are in `pending`; documents written before
        # early facts were judged kept them merged in `fills` and `closes`: those still count.)
        fills, closes, refused = judge_pending(
            self.run_id,
            self.pending,
            ordered,
            broker_integration,
            policy,
            (self.fills, self.closes),
        )
        planned = replace(
            planned,
            fills=fills,
            closes=closes,
            pending=(),
            rejections=(*self.rejections, *refused),
        )
        planned.transactions  # noqa: B018  derive now so an inconsistency surfaces here
        return planned

    def record_fill(
        self,
        leg: int,
        cum_qty: Decimal,
        avg_price: Decimal,
        trade_date: date,
        executed_at: datetime,
        *,
        fully_filled: bool = False,
        source: FactSource | None = None,
        policy: AcceptancePolicy = DEFAULT_POLICY,
    ) -> Run:
        """Record order.filled. Raises DuplicateFill when it adds nothing (a no-op) and
        FactRejected when it fails a check (``source`` None: no order identity is claimed)."""
        fill = OrderFilled(cum_qty, avg_price, trade_date, executed_at, fully_filled)
        if self.orders is None:
            early = PendingFact(FactKind.FILL, leg, fill, source)
            return replace(self, pending=keep_pending(self.run_id, self.pending, early))
        accept(self.run_id, self.orders, leg, fill, source, self.broker_integration, policy)
        known = self.fills.get(leg)
        merged = merge_fill(known, fill)
        if merged == known:
            raise DuplicateFill(f"run {self.run_id} leg {leg}: cum_qty {cum_qty} already known")
        return self._with_leg_change(replace(self, fills={**self.fills, leg: merged}), leg)

    def record_close(
        self,
        leg: int,
        reason: CloseReason,
        cum_qty: Decimal,
        closed_at: datetime,
        *,
        source: FactSource | None = None,
        policy: AcceptancePolicy = DEFAULT_POLICY,
    ) -> Run:
        """Record order.closed. Raises DuplicateClose when it adds nothing (a no-op) and
        FactRejected when it fails a check."""
        try:
            close_reason = CloseReason(reason)
        except ValueError as error:
            raise InvalidEvent(f"unknown close reason {reason!r}") from error
        close = OrderClosed(close_reason, cum_qty, closed_at)
        if self.orders is None:
            early = PendingFact(FactKind.CLOSE, leg, close, source)
            return replace(self, pending=keep_pending(self.run_id, self.pending, early))
        accept(self.run_id, self.orders, leg, close, source, self.broker_integration, policy)
        known = self.closes.get(leg)
        merged = merge_close(known, close)
        if merged == known:
            raise DuplicateClose(f"run {self.run_id} leg {leg}: close already known")
        return self._with_leg_change(replace(self, closes={**self.closes, leg: merged}), leg)

    def settle_due(
        self, today: date, calendar: TradingCalendar, cycles: SettlementCycles
    ) -> tuple[Run, list[Transaction]]:
        """Settle every transaction whose settlement date is on or before ``today``.

        Returns the new run and the newly settled transactions (by leg). Allowed after
        completion too: with unblock_on=EXECUTED the run completes before it settles.
        """
        due = {
            leg: settles
            for leg, settles in self.settlement_dates(calendar, cycles).items()
            if settles <= today
        }
        if not due:
            return self, []
        settled = replace(self, settlements={**self.settlements, **due})
        return settled, [settled.transactions[leg] for leg in sorted(due)]

    def settlement_dates(
        self, calendar: TradingCalendar, cycles: SettlementCycles
    ) -> dict[int, date]:
        """When each settleable, not yet settled transaction settles (to schedule a wake-up)."""
        return {
            leg: settlement_date(tx.trade_date, cycles.days_for(tx.asset_class), calendar)
            for leg, tx in self.transactions.items()
            if tx.is_settleable and tx.trade_date is not None
        }

    def cancel(self, now: datetime) -> Run:
        """Cancel the run: CANCELED if nothing executed yet (open legs close at once), else
        CANCELED_MID_RUN once the open legs close (order.closed from the order-router)."""
        if self.completed:
            raise RunAlreadyCompleted(f"run {self.run_id} already completed")
        if self.canceled_at is not None:
            raise DuplicateCancel(f"run {self.run_id} already canceled")
        if now.tzinfo is None:
            raise InvalidEvent("now must be timezone-aware")
        return replace(self, canceled_at=now, canceled_before_execution=not self.executed_anything)

    def completion(self, unblock_on: UnblockOn = UnblockOn.SETTLED) -> RunCompletion | None:
        """The run.completed content, or None: not planned, not every transaction final, or
        already completed (so that run.completed is produced exactly once)."""
        if self.completed or self.orders is None:
            return None
        transactions = self.transactions.values()
        if not all(tx.is_final(unblock_on) for tx in transactions):
            return None
        return build_completion(
            run_id=self.run_id,
            portfolio_id=self.portfolio_id,
            run_type=self.run_type,
            broker_integration=self.broker_integration,
            transactions=transactions,
            skipped=self.skipped_orders,
            canceled=self.canceled_at is not None,
            unblock_on=UnblockOn(unblock_on),
        )

    def reported_completion(self, unblock_on: UnblockOn = UnblockOn.SETTLED) -> RunCompletion:
        """What run.completed said about this completed run, to say it again (the broker may
        have lost it). Derived from the same facts, so it is the same content."""
        if not self.completed:
            raise IllegalTransition(f"run {self.run_id} has not completed")
        completion = replace(self, completed=False, final_status=None).completion(unblock_on)
        assert completion is not None  # it completed on these facts
        return completion

    def complete(
        self, unblock_on: UnblockOn = UnblockOn.SETTLED
    ) -> tuple[Run, RunCompletion | None]:
        """Mark the run completed when it can be; the completion is returned exactly once."""
        completion = self.completion(unblock_on)
        if completion is None:
            return self, None
        return replace(self, completed=True, final_status=completion.status), completion

    # ---- guards --------------------------------------------------------------------------

    def _with_leg_change(self, changed: Run, leg: int) -> Run:
        """Accept new facts unless they alter a transaction that was already reported on."""
        if self.orders is None:
            return changed
        before, after = self.transactions[leg], changed.transactions[leg]
        if _reported_view(before) == _reported_view(after):
            return changed
        if self.completed:
            raise RunAlreadyCompleted(f"run {self.run_id} already completed; leg {leg} changed")
        if before.settled_on is not None:
            raise IllegalTransition(f"run {self.run_id} leg {leg} already settled")
        return changed


def _reported_view(tx: Transaction) -> tuple[object, ...]:
    """What transaction.settled and run.completed publish about a transaction."""
    return (tx.status, tx.filled_qty, tx.avg_price, tx.trade_date, tx.close_reason, tx.settled_on)
