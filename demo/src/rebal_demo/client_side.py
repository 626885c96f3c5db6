"""Everything outside rebal that the demo plays: the client's middleware (CLIENT broker integration
fills and holdings patches), the external optimizer, and the advisory owners. It reacts to what rebal
publishes and records what a client would measure."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal

from rebal_demo.book import Account
from rebal_demo.scenario import MODELS_BY_ID, PortfolioPlan
from rebal_runtime.calendar import NEW_YORK
from rebal_schemas import (
    BrokerIntegration,
    Event,
    HoldingsReported,
    Mandate,
    MessageDeadLettered,
    OptimizationCreated,
    OptimizationDecided,
    OptimizationReady,
    OptimizationStatus,
    OptimizationStatusChanged,
    OptimizationSubmitted,
    OptimizerMode,
    OrderFilled,
    OrderSide,
    OwnerChoice,
    ProposedOrder,
    RunCancelRequested,
    RunCompleted,
    RunCreated,
    RunExecutionQueued,
    RunExecutionStarted,
    RunSettled,
)

QTY = Decimal("0.000000001")
_SUBMISSIONS = itertools.count(1)
CENT = Decimal("0.01")


@dataclass
class Timeline:
    """Wall-clock times per portfolio, for latency figures."""

    triggered: dict[str, float] = field(default_factory=dict)
    ready: dict[str, float] = field(default_factory=dict)  # optimization id -> time
    latencies_trigger_to_completed: list[float] = field(default_factory=list)
    latencies_ready_to_completed: list[float] = field(default_factory=list)


@dataclass
class ClientSide:
    plans: dict[str, PortfolioPlan]
    books: dict[str, Account]
    prices: dict[str, Decimal]
    timeline: Timeline = field(default_factory=Timeline)
    created: list[OptimizationCreated] = field(default_factory=list)
    status_changes: list[OptimizationStatusChanged] = field(default_factory=list)
    readies: dict[str, OptimizationReady] = field(default_factory=dict)
    completed: dict[str, RunCompleted] = field(default_factory=dict)
    settled: dict[str, RunSettled] = field(default_factory=dict)
    dead_letters: list[MessageDeadLettered] = field(default_factory=list)
    choices_made: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    drift_before: dict[str, Decimal] = field(default_factory=dict)
    outbox: list[Event] = field(default_factory=list)  # what the demo must publish next
    withdrawn: set[str] = field(default_factory=set)
    paid_out: dict[str, Decimal] = field(default_factory=dict)
    payout_event_ids: dict[str, str] = field(default_factory=dict)
    last_created: dict[str, float] = field(default_factory=dict)  # portfolio -> monotonic time
    decisions: dict[str, OwnerChoice] = field(default_factory=dict)  # optimization id -> choice
    cancel_one_client_run: bool = True
    cancel_target: str | None = None  # the CLIENT run whose owner cancels it before any fill
    created_runs: set[str] = field(default_factory=set)
    queued: dict[str, RunExecutionQueued] = field(default_factory=dict)  # run id -> queued
    started: dict[str, RunExecutionStarted] = field(default_factory=dict)

    def unanswered_decisions(self) -> list[str]:
        """Owner choices rebal has not acted on yet: ACCEPT -> optimization.ready, REJECT ->
        REJECTED, REOPTIMIZE -> SUPERSEDED (and a new optimization)."""
        answered = {(c.optimization_id, c.status) for c in self.status_changes}
        expected = {
            OwnerChoice.REJECT: OptimizationStatus.REJECTED,
            OwnerChoice.REOPTIMIZE: OptimizationStatus.SUPERSEDED,
        }
        return [
            oid
            for oid, choice in self.decisions.items()
            if (
                oid not in self.readies
                if choice == OwnerChoice.ACCEPT
                else (oid, expected[choice]) not in answered
            )
        ]

    # -- reactions -------------------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        if isinstance(event, OptimizationCreated):
            self._on_created(event)
        elif isinstance(event, OptimizationStatusChanged):
            self.status_changes.append(event)
        elif isinstance(event, OptimizationReady):
            self._on_ready(event)
        elif isinstance(event, RunCompleted):
            self._on_completed(event)
        elif isinstance(event, RunSettled):
            self.settled.setdefault(event.run_id, event)
        elif isinstance(event, RunCreated):
            self._on_run_created(event)
        elif isinstance(event, RunExecutionQueued):
            self.queued.setdefault(event.run_id, event)
        elif isinstance(event, RunExecutionStarted):
            self.started.setdefault(event.run_id, event)
        elif isinstance(event, MessageDeadLettered):
            self.dead_letters.append(event)

    def _on_created(self, event: OptimizationCreated) -> None:
        self.created.append(event)
        self.last_created[event.portfolio_id] = time.monotonic()
        plan = self.plans.get(event.portfolio_id)
        if plan is None or event.status != OptimizationStatus.AWAITING_OWNER:
            return
        answered = self.choices_made[event.portfolio_id]
        choices = plan.owner_choices
        if plan.optimizer == OptimizerMode.EXTERNAL:
            choices = tuple(c for c in choices if c != OwnerChoice.REOPTIMIZE) or (
                OwnerChoice.ACCEPT,
            )
        choice = choices[answered] if answered < len(choices) else OwnerChoice.ACCEPT
        self.choices_made[event.portfolio_id] += 1
        self.decisions[event.optimization_id] = choice
        self.outbox.append(
            OptimizationDecided(
                optimization_id=event.optimization_id,
                portfolio_id=event.portfolio_id,
                owner_choice=choice,
                producer="demo-owner",
                causation_id=event.event_id,
            )
        )

    def _on_ready(self, event: OptimizationReady) -> None:
        self.readies[event.optimization_id] = event
        self.timeline.ready[event.optimization_id] = time.monotonic()
        if event.broker_integration != BrokerIntegration.CLIENT:
            return
        if self.cancel_one_client_run and self.cancel_target is None:
            # The owner changes their mind: the middleware holds the orders, the run is cancelled.
            self.cancel_target = event.optimization_id
            if event.optimization_id in self.created_runs:
                self.outbox.append(self._cancel(event.portfolio_id, event.optimization_id))
            return
        self.outbox.extend(self._client_fills(event))

    def _on_run_created(self, event: RunCreated) -> None:
        # A cancel is sent once the run exists at the settlement-tracker (its run.created):
        # before that the tracker would answer that it knows no such run.
        self.created_runs.add(event.id)
        if event.id == self.cancel_target:
            self.outbox.append(self._cancel(event.portfolio_id, event.id))

    def _cancel(self, portfolio_id: str, run_id: str) -> RunCancelRequested:
        return RunCancelRequested(
            run_id=run_id,
            portfolio_id=portfolio_id,
            reason="the owner changed their mind",
            producer="demo-owner",
        )

    def _client_fills(self, ready: OptimizationReady) -> list[Event]:
        """The client's middleware executes the orders at its broker and reports the fills."""
        now = datetime.now(UTC)
        fills: list[Event] = []
        for order in ready.orders:
            price = self.prices[order.symbol]
            qty = order.qty if order.qty is not None else (order.notional or Decimal(0)) / price
            qty = qty.quantize(QTY, rounding=ROUND_DOWN)
            if qty <= 0:
                continue
            fills.append(
                OrderFilled(
                    run_id=ready.optimization_id,
                    portfolio_id=ready.portfolio_id,
                    leg=order.leg,
                    client_order_id=f"mw-{ready.optimization_id}-{order.leg}",
                    symbol=order.symbol,
                    side=order.side,
                    filled_qty=qty,
                    filled_avg_price=price,
                    trade_date=now.astimezone(NEW_YORK).date(),  # the market's date
                    filled_at=now,
                    status="filled",
                    producer="demo-middleware",
                    correlation_id=ready.optimization_id,
                )
            )
        return fills

    def _on_completed(self, event: RunCompleted) -> None:
        if event.run_id in self.completed:
            return
        self.completed[event.run_id] = event
        now = time.monotonic()
        if event.run_id in self.timeline.ready:
            self.timeline.latencies_ready_to_completed.append(
                now - self.timeline.ready[event.run_id]
            )
        started = self.timeline.triggered.pop(event.portfolio_id, None)
        if started is not None:
            self.timeline.latencies_trigger_to_completed.append(now - started)
        book = self.books.get(event.portfolio_id)
        if book is None:
            return
        book.apply(event.holdings_delta, event.cash_delta)
        if event.broker_integration == BrokerIntegration.CLIENT:
            # The middleware patches holdings after execution; rebal waits for this in CLIENT mode.
            self.outbox.append(self.snapshot(event.portfolio_id))

    # -- client actions ----------------------------------------------------------------------------
    def snapshot(self, portfolio_id: str) -> HoldingsReported:
        book = self.books[portfolio_id]
        return HoldingsReported(
            portfolio_id=portfolio_id,
            as_of=datetime.now(UTC),
            holdings=dict(book.holdings),
            cash=book.cash,
            producer="demo-middleware",
        )

    def cash_withdrawn(self, plan: PortfolioPlan, amount: Decimal) -> HoldingsReported | None:
        """After the withdrawal run the client moves the cash out (what there is, at most the
        amount asked) and tells rebal."""
        book = self.books[plan.portfolio_id]
        amount = min(amount, book.cash).quantize(CENT, rounding=ROUND_DOWN)
        if amount <= 0:
            return None
        book.cash -= amount
        self.withdrawn.add(plan.portfolio_id)
        self.paid_out[plan.portfolio_id] = amount
        event = (
            self.snapshot(plan.portfolio_id)
            if plan.broker == BrokerIntegration.CLIENT
            else HoldingsReported(
                portfolio_id=plan.portfolio_id,
                mode="delta",
                as_of=datetime.now(UTC),
                holdings={},
                cash=-amount,
                producer="demo-middleware",
            )
        )
        self.payout_event_ids[plan.portfolio_id] = event.event_id
        return event

    def external_optimization(
        self, plan: PortfolioPlan, raise_cash: Decimal = Decimal(0)
    ) -> OptimizationSubmitted | None:
        """The client's own optimizer: orders that bring the book back to the model's weights."""
        book = self.books[plan.portfolio_id]
        model = MODELS_BY_ID[plan.model_id]
        total = book.value(self.prices) - raise_cash
        sells: list[ProposedOrder] = []
        buys: list[ProposedOrder] = []
        cash_after = book.cash
        for weight in model.weights:
            if weight.type != "asset" or weight.symbol is None:
                continue
            price = self.prices[weight.symbol]
            target = total * weight.percent / 100
            current = book.holdings.get(weight.symbol, Decimal(0)) * price
            diff = target - current
            if diff < -5:
                qty = min(book.holdings.get(weight.symbol, Decimal(0)), (-diff / price)).quantize(
                    QTY, rounding=ROUND_DOWN
                )
                if qty > 0:
                    sells.append(ProposedOrder(symbol=weight.symbol, side=OrderSide.sell, qty=qty))
                    cash_after += qty * price
            elif diff > 5:
                buys.append(
                    ProposedOrder(
                        symbol=weight.symbol,
                        side=OrderSide.buy,
                        notional=diff.quantize(CENT, rounding=ROUND_DOWN),
                    )
                )
        spendable = cash_after - raise_cash - total * _cash_weight(plan) / 100
        budget = sum((b.notional or Decimal(0) for b in buys), Decimal(0))
        if budget > spendable > 0:
            scale = spendable / budget
            buys = [
                ProposedOrder(
                    symbol=b.symbol,
                    side=b.side,
                    notional=((b.notional or Decimal(0)) * scale).quantize(
                        CENT, rounding=ROUND_DOWN
                    ),
                )
                for b in buys
            ]
        elif spendable <= 0:
            buys = []
        orders = tuple(sells + [b for b in buys if (b.notional or 0) >= 1])
        if not orders:
            return None
        return OptimizationSubmitted(
            portfolio_id=plan.portfolio_id,
            external_optimization_id=f"ext-{plan.portfolio_id}-{next(_SUBMISSIONS)}",
            orders=orders,
            producer="demo-external-optimizer",
        )


def _cash_weight(plan: PortfolioPlan) -> Decimal:
    model = MODELS_BY_ID[plan.model_id]
    return sum((w.percent for w in model.weights if w.type == "cash"), Decimal(0))


def is_advisory(plan: PortfolioPlan) -> bool:
    return plan.mandate == Mandate.ADVISORY
