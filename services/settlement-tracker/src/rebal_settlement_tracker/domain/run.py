"""The Run aggregate: one per ready optimization (run id = optimization id).

The run stores FACTS — the plan, the best-known cumulative fill and close per leg, settlement
dates — and derives each Transaction by replaying them in a fixed order (fill, close, settle)
through the transaction state machine. Facts are merged with joins (see ``facts.py``), so any
permutation of the same events, duplicates included, gives the same transactions and the same
RunCompletion. Its status (``lifecycle.py``) follows from those facts: ``progress.advance``
moves it after every command; run.completed is due when every *order* is final, run.settled
when every *transaction* is.

A run may end before its orders all ran (``stop.py``); what a fill reported after that end adds
is kept apart (``late_fills``, ``execution.py``): it settles on its own (``late_transactions``),
but ``transactions`` and the run's reports stay as it ended.

Every fact must pass the checks of ``acceptance.py`` against its order. Fills and closes that
arrive before the plan cannot be checked yet: each is kept as it came (``pending``, not merged, so
that a forged large fill cannot swallow the real smaller ones), and judged when the plan arrives;
the accepted ones are merged, the others recorded in ``rejections`` for the caller to report.
A cancel request read before the plan is kept as well (``kept_cancels``), and applied when the
plan arrives (``kept_cancel.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property
from typing import Final

from rebal_settlement_tracker.domain import execution, planning
from rebal_settlement_tracker.domain.acceptance import (
    AcceptancePolicy,
    FactKind,
    FactSource,
    PendingFact,
    Rejection,
    accept,
    keep_pending,
)
from rebal_settlement_tracker.domain.completion import RunCompletion, build_completion
from rebal_settlement_tracker.domain.derived_leg import DerivedLeg
from rebal_settlement_tracker.domain.errors import (
    DuplicateClose,
    DuplicateFill,
    IllegalTransition,
    InvalidEvent,
)
from rebal_settlement_tracker.domain.facts import check_leg_change, merge_close, merge_fill
from rebal_settlement_tracker.domain.kept_cancel import KeptCancel
from rebal_settlement_tracker.domain.lifecycle import RunLifecycle, RunStatus
from rebal_settlement_tracker.domain.order_ref import OrderRef
from rebal_settlement_tracker.domain.plan import PlannedOrder, RunTerms, SkippedOrder
from rebal_settlement_tracker.domain.stop import RunStop, StopKind
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    CloseReason,
    OrderClosed,
    OrderFilled,
    Transaction,
)

DEFAULT_POLICY: Final = AcceptancePolicy()
NO_TERMS: Final = RunTerms()


@dataclass(frozen=True)
class Run:
    """Immutable: every command returns a new Run."""

    run_id: str
    portfolio_id: str
    terms: RunTerms = NO_TERMS  # from optimization.ready, reported on every run event
    orders: tuple[PlannedOrder, ...] | None = None  # None until optimization.ready
    skipped_orders: tuple[SkippedOrder, ...] = ()
    fills: Mapping[int, OrderFilled] = field(default_factory=dict)
    closes: Mapping[int, OrderClosed] = field(default_factory=dict)
    settlements: Mapping[int, date] = field(default_factory=dict)
    pending: tuple[PendingFact, ...] = ()  # facts received before the plan, not yet judged
    rejections: tuple[Rejection, ...] = ()  # early facts the plan refused
    execution_starts_at: datetime | None = None  # queued by the order-router until then
    execution_started_at: datetime | None = None  # the order-router said its first order left
    cancel_requested_at: datetime | None = None  # a client asked to cancel
    cancel_request_id: str | None = None  # that request's event id, to answer it at the end
    kept_cancels: tuple[KeptCancel, ...] = ()  # cancels read before the plan (`kept_cancel.py`)
    stop: RunStop | None = None  # how its execution ended early (canceled, re-plan, timeout)
    late_fills: Mapping[int, OrderFilled] = field(default_factory=dict)  # increments after the end
    late_settlements: Mapping[int, date] = field(default_factory=dict)  # of the late fills
    lifecycle: RunLifecycle = field(default_factory=RunLifecycle)
    # Transactions derived by the runs of this lineage, by leg, with the very facts they were
    # derived from: `replace` hands the same dict to each new Run, so a command that leaves a
    # leg's facts as they were (most of them: a status move, another leg's fill) reuses its
    # transaction instead of replaying the state machine. Neither compared nor shown.
    _derived: dict[int, DerivedLeg] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True
    )

    # ---- derived state -------------------------------------------------------------------

    @property
    def is_planned(self) -> bool:
        return self.orders is not None

    @property
    def is_completed(self) -> bool:
        """Its final status was reached (and run.completed said so)."""
        return self.lifecycle.is_final

    @property
    def started(self) -> bool:
        """Its execution started: an order event was accepted for it, or the router said so."""
        if self.fills or self.closes or self.execution_started_at is not None:
            return True
        return self.stop is not None and self.stop.orders_left

    @property
    def canceled_at(self) -> datetime | None:
        return self.stop.at if self.stop is not None and self.stop.is_cancel else None

    @cached_property
    def transactions(self) -> Mapping[int, Transaction]:
        """Transactions by leg (empty until the plan is known), as the run ended if it did: what
        run.completed and run.settled report."""
        return {order.leg: self._derive(order) for order in self.orders or ()}

    @cached_property
    def late_transactions(self) -> Mapping[int, Transaction]:
        """By leg, what executed after the run ended (`execution.late_transactions`)."""
        return execution.late_transactions(self)

    @property
    def status(self) -> RunStatus:
        """The status last reached (QUEUED also before the run is created)."""
        return self.lifecycle.status or RunStatus.QUEUED

    def _derive(self, order: PlannedOrder) -> Transaction:
        fill, close = self.fills.get(order.leg), self.closes.get(order.leg)
        settled_on, stop = self.settlements.get(order.leg), self.stop
        known = self._derived.get(order.leg)
        # Identity, not equality: equal Decimals may print differently ("10" and "10.0").
        if (
            known is not None
            and known.order is order
            and known.fill is fill
            and known.close is close
            and known.stop is stop
            and known.settled_on == settled_on
        ):
            return known.transaction
        effective = close if stop is None else stop.close_for(close, fill.cum_qty if fill else ZERO)
        tx = order.transaction(fill, effective, settled_on)
        self._derived[order.leg] = DerivedLeg(order, fill, close, stop, settled_on, tx)
        return tx

    # ---- commands ------------------------------------------------------------------------

    def plan(
        self,
        orders: Sequence[PlannedOrder],
        skipped: Sequence[SkippedOrder] = (),
        terms: RunTerms = NO_TERMS,
        *,
        created_at: datetime | None = None,
        policy: AcceptancePolicy = DEFAULT_POLICY,
    ) -> Run:
        """Record the plan of optimization.ready (the run is created at ``created_at``); facts
        received earlier are judged now: the accepted ones apply, the refused ones are added to
        ``rejections`` (``planning.py``)."""
        return planning.planned(self, orders, skipped, terms, created_at, policy)

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
        ref: OrderRef | None = None,
    ) -> Run:
        """Record order.filled. Raises DuplicateFill when it adds nothing (a no-op) and
        FactRejected when it fails a check (``source`` None: no order identity is claimed)."""
        fill = OrderFilled(cum_qty, avg_price, trade_date, executed_at, fully_filled, ref)
        if self.orders is None:
            early = PendingFact(FactKind.FILL, leg, fill, source)
            return replace(self, pending=keep_pending(self.run_id, self.pending, early))
        accept(self.run_id, self.orders, leg, fill, source, self.terms.broker_integration, policy)
        if execution.is_late(self, leg):
            return execution.with_late_fill(self, leg, fill)
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
        ref: OrderRef | None = None,
        run_canceled: bool = False,
    ) -> Run:
        """Record order.closed (``run_canceled``: the router closed it for the run's cancel).
        Raises DuplicateClose when it adds nothing (a no-op), FactRejected when a check fails."""
        try:
            close_reason = CloseReason(reason)
        except ValueError as error:
            raise InvalidEvent(f"unknown close reason {reason!r}") from error
        close = OrderClosed(close_reason, cum_qty, closed_at, ref, run_canceled=run_canceled)
        if self.orders is None:
            early = PendingFact(FactKind.CLOSE, leg, close, source)
            return replace(self, pending=keep_pending(self.run_id, self.pending, early))
        accept(self.run_id, self.orders, leg, close, source, self.terms.broker_integration, policy)
        if execution.is_late(self, leg):
            raise DuplicateClose(f"run {self.run_id} leg {leg}: its outcome was fixed at the end")
        known = self.closes.get(leg)
        merged = merge_close(known, close)
        if merged == known:
            raise DuplicateClose(f"run {self.run_id} leg {leg}: close already known")
        return self._with_leg_change(replace(self, closes={**self.closes, leg: merged}), leg)

    def with_settlements(self, due: Mapping[int, date], *, late: bool = False) -> Run:
        """The settlements of ``due`` (leg -> date) recorded (``progress.settle_due`` finds them),
        of the late fills if ``late``."""
        if late:
            return replace(self, late_settlements={**self.late_settlements, **due})
        return replace(self, settlements={**self.settlements, **due})

    def queue_execution(self, starts_at: datetime) -> Run:
        """The order-router queued the run until ``starts_at`` (again, later, if the window
        closed before its first order left): it stays QUEUED."""
        return execution.queued(self, starts_at)

    def start_execution(self, at: datetime) -> Run:
        """The order-router started executing the run (its first order is leaving): the run is
        IN_PROGRESS even before any order event. DuplicateStatus when that is known or moot."""
        return execution.started(self, at)

    def request_cancel(self, portfolio_id: str, at: datetime, request_id: str | None = None) -> Run:
        """A client asks to cancel the run (Alpaca ``DELETE /runs/{id}``): recorded with its event
        id (``cancel`` ends a CLIENT run; a PLATFORM run's execution is stopped by the
        order-router). CancelOfUnknownRun / CancelOfFinalRun refuse it."""
        return execution.cancel_requested(self, portfolio_id, at, request_id)

    def cancel(self, now: datetime, reason: str = "", cause: str | None = None) -> Run:
        """End the run now: open legs CANCELLED; CANCELED if nothing executed, else
        CANCELED_MID_RUN (fills kept). ``cause``: the cancel request's event id."""
        return execution.canceled(self, RunStop(StopKind.CANCELED, now, reason, cause))

    def stop_execution(self, stop: RunStop) -> Run:
        """The order-router stopped the run (``stop.py``); DuplicateStatus when moot."""
        return execution.stopped(self, stop)

    def time_out(self, now: datetime) -> Run:
        """Its deadline passed (``deadline.py``): open legs EXPIRE, the run ends TIMEOUT."""
        return execution.timed_out(self, now)

    # ---- what it reports -----------------------------------------------------------------

    def report(self) -> RunCompletion:
        """What the run's facts say now: status, outcome per order, deltas."""
        if self.orders is None:
            raise IllegalTransition(f"run {self.run_id} has no plan")
        return build_completion(
            run_id=self.run_id,
            portfolio_id=self.portfolio_id,
            terms=self.terms,
            transactions=self.transactions.values(),
            skipped=self.skipped_orders,
            stop=self.stop,
        )

    def completion(self) -> RunCompletion | None:
        """The run.completed content, or None: not planned, not every order final, waiting for
        the order-router's stop (`execution.awaits_stop`), or already completed (so that
        run.completed is produced exactly once)."""
        if self.is_completed or self.orders is None or execution.awaits_stop(self):
            return None
        if not all(tx.is_order_final for tx in self.transactions.values()):
            return None
        return self.report()

    def _with_leg_change(self, changed: Run, leg: int) -> Run:
        """Accept new facts (of a planned run) unless they alter a transaction already reported."""
        before, after = self.transactions[leg], changed.transactions[leg]
        check_leg_change(f"run {self.run_id} leg {leg}", before, after, completed=self.is_completed)
        return changed
