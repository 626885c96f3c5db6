"""The Portfolio aggregate: holdings, cash, settings and where it stands in the rebalancing
process (blocked, awaiting its owner, awaiting the client's holdings).

Every method returns a new Portfolio; nothing is mutated. It imports neither conditions.py nor
evaluation.py: they read it (portfolio <- conditions <- evaluation <- account), and an evaluation
moves it along through its methods (`wait_for`, `defer_model_change`, `evaluated`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from rebal_optimizer.domain.deferral import Deferred
from rebal_optimizer.domain.enums import (
    BrokerIntegration,
    Initiator,
    OwnerChoice,
    RunType,
    TriggerReason,
)
from rebal_optimizer.domain.errors import IllegalTransition, InvalidPortfolioUpdate
from rebal_optimizer.domain.lots import Lot
from rebal_optimizer.domain.model_portfolio import ZERO
from rebal_optimizer.domain.optimization import (
    AwaitingOwner,
    Optimization,
    OptimizationEvent,
    OptimizationStatus,
)
from rebal_optimizer.domain.replan import Origin
from rebal_optimizer.domain.retry_state import PendingRetry, RetryLink
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.triggers import Trigger
from rebal_optimizer.domain.waiting import Waiting


@dataclass(frozen=True, slots=True)
class OwnerDecision:
    portfolio: Portfolio
    optimization: Optimization
    # Set on REOPTIMIZE: evaluate this trigger with a new optimization id.
    reoptimize: Trigger | None = None


def _normalized(holdings: Mapping[str, Decimal]) -> dict[str, Decimal]:
    for symbol, qty in holdings.items():
        if not qty.is_finite() or qty < 0:
            raise InvalidPortfolioUpdate(f"quantity of {symbol} would be {qty}")
    return {symbol: holdings[symbol] for symbol in sorted(holdings) if holdings[symbol] != 0}


@dataclass(frozen=True, slots=True)
class Portfolio:
    portfolio_id: str
    holdings: Mapping[str, Decimal] = field(default_factory=dict)
    cash: Decimal = ZERO
    settings: PortfolioSettings = field(default_factory=PortfolioSettings)
    blocked_by: str | None = None  # a READY optimization: nothing else until its run is over
    blocked_run_type: RunType | None = None
    blocked_at: datetime | None = None  # when the blocking optimization became READY
    awaiting_owner: AwaitingOwner | None = None  # advisory optimization waiting for a choice
    last_rebalanced_at: date | None = None  # completion date of the last full rebalance
    last_automatic_optimization_day: date | None = None  # trading day
    funded: bool = False
    pending_withdrawal: Decimal = ZERO  # total requested (InvestSuite divest_amount semantics)
    awaiting_client_holdings_after: datetime | None = None
    holdings_as_of: datetime | None = None
    cooldown_waived: bool = False  # a model change could not be acted on yet
    targets_changed: bool = False  # new subscription or own weights: rebalance next time
    waiting_for: Waiting | None = None  # a price or model an evaluation missed, and its trigger
    deferred: Deferred | None = None  # automatic triggers a rule held back (deferral.py)
    origin: Origin | None = None  # what the awaiting or blocking optimization used up (replan.py)
    lots: Mapping[str, tuple[Lot, ...]] = field(default_factory=dict)  # tax lots (lots.py)
    loss_sales: Mapping[str, date] = field(default_factory=dict)  # symbol -> last loss sale
    # Signed notional per symbol skipped below the minimum, for the next run (carry_forward.py)
    carried: Mapping[str, Decimal] = field(default_factory=dict)
    pending_retry: PendingRetry | None = None  # failed legs of an adjusted run (retries.py)
    retry_link: RetryLink | None = None  # the retry run in flight

    def __post_init__(self) -> None:
        object.__setattr__(self, "holdings", _normalized(self.holdings))

    # -- facts arriving on portfolio.patched --------------------------------------------------

    def apply_holdings_snapshot(
        self, holdings: Mapping[str, Decimal], cash: Decimal, as_of: datetime
    ) -> Portfolio:
        """Replace holdings and cash (InvestSuite PATCH replaces the whole object). A snapshot
        not newer than the one applied is ignored, so out-of-order patches cannot roll back."""
        if self.holdings_as_of is not None and as_of <= self.holdings_as_of:
            return self
        waiting = self.awaiting_client_holdings_after
        return replace(
            self,
            holdings=holdings,
            cash=cash,
            holdings_as_of=as_of,
            funded=self.funded or any(qty > 0 for qty in holdings.values()),
            awaiting_client_holdings_after=None if waiting and as_of > waiting else waiting,
        )

    def apply_holdings_delta(
        self, deltas: Mapping[str, Decimal], cash_delta: Decimal = ZERO
    ) -> Portfolio:
        merged = dict(self.holdings)
        for symbol, delta in deltas.items():
            merged[symbol] = merged.get(symbol, ZERO) + delta
        return replace(
            self,
            holdings=merged,
            cash=self.cash + cash_delta,
            funded=self.funded or any(q > 0 for q in merged.values()),
        )

    def deposit_cash(self, amount: Decimal) -> Portfolio:
        if amount <= 0:
            raise InvalidPortfolioUpdate(f"deposit must be positive, got {amount}")
        return replace(self, cash=self.cash + amount)

    def request_withdrawal(self, amount: Decimal) -> Portfolio:
        """`amount` is the total requested, not an increment, so a repeated request is the
        same request; 0 cancels it."""
        if amount < 0:
            raise InvalidPortfolioUpdate(f"withdrawal must not be negative, got {amount}")
        return replace(self, pending_withdrawal=amount)

    def withdraw_cash(self, amount: Decimal) -> Portfolio:
        """The money left the account: it no longer counts as cash nor as pending."""
        if amount <= 0:
            raise InvalidPortfolioUpdate(f"withdrawal must be positive, got {amount}")
        return replace(
            self,
            cash=self.cash - amount,
            pending_withdrawal=max(ZERO, self.pending_withdrawal - amount),
        )

    def change_settings(self, settings: PortfolioSettings) -> Portfolio:
        has_targets = settings.follows_model or bool(settings.own_weights)
        changed = settings.targets_differ(self.settings) and has_targets
        return replace(self, settings=settings, targets_changed=self.targets_changed or changed)

    # -- evaluation ------------------------------------------------------------------------------

    def resumed_trigger(self, token: str) -> Trigger | None:
        """The trigger to evaluate again now that `token` (`price:SPY`, `model:m`) arrived;
        None when the portfolio is not waiting for it."""
        waiting = self.waiting_for
        if waiting is None or waiting.token != token:
            return None
        return waiting.resumed_trigger()

    def wait_for(self, waiting: Waiting | None) -> Portfolio:
        """What it waits for after an evaluation (a missing price or model and its trigger)."""
        return self if waiting == self.waiting_for else replace(self, waiting_for=waiting)

    def defer(self, deferred: Deferred | None) -> Portfolio:
        """What is deferred after an evaluation: held back now, or None once acted on."""
        return self if deferred == self.deferred else replace(self, deferred=deferred)

    def defer_model_change(self) -> Portfolio:
        """A model change a gate postponed: the next evaluation rebalances despite cooldown."""
        return replace(self, cooldown_waived=True)

    def evaluated(
        self,
        optimization: Optimization,
        *,
        waiting: Waiting | None,
        targets_honoured: bool = False,
        automatic_day: date | None = None,
        first_funding: bool = False,
        client_holdings_late: bool = False,
        origin: Origin | None = None,
    ) -> tuple[Portfolio, str | None]:
        """After an evaluation created `optimization`: what it waits for, a target change
        honoured (cooldown no longer waived), the trading day of a recommended automatic
        optimization, first funding, the end of a CLIENT wait past its deadline (it was
        optimized on its own book); a recommended optimization replaces one still waiting for
        its owner, a READY one blocks, and keeps its `origin` for a re-plan. Returns the
        portfolio and the id of the optimization it superseded, if any. One replace() per evaluation: it is the hot path."""
        changes: dict[str, Any] = {}
        if waiting != self.waiting_for:
            changes["waiting_for"] = waiting
        if client_holdings_late:
            changes["awaiting_client_holdings_after"] = None
        if targets_honoured:
            changes.update(cooldown_waived=False, targets_changed=False)
        recommended = optimization.is_recommended
        if recommended and automatic_day is not None:
            changes["last_automatic_optimization_day"] = automatic_day
        if recommended and first_funding:
            changes["funded"] = True
        superseded = None
        if recommended:
            previous = self.awaiting_owner
            superseded = previous.optimization_id if previous is not None else None
            changes["origin"] = origin
            if optimization.status is OptimizationStatus.AWAITING_OWNER:
                changes["awaiting_owner"] = AwaitingOwner(
                    optimization.optimization_id, optimization.created_at
                )
            else:
                changes.update(
                    awaiting_owner=None,
                    blocked_by=optimization.optimization_id,
                    blocked_run_type=optimization.run_type,
                    blocked_at=optimization.status_changed_at or optimization.created_at,
                )
        return (replace(self, **changes) if changes else self), superseded

    # -- the owner's choice (advisory mandate) --------------------------------------------

    def decide(
        self, optimization: Optimization, choice: OwnerChoice, now: datetime
    ) -> OwnerDecision:
        choice = OwnerChoice(choice)
        current = self.awaiting_owner
        if current is None or current.optimization_id != optimization.optimization_id:
            raise IllegalTransition(
                f"{optimization.optimization_id} is not awaiting its owner on this portfolio"
            )
        if choice is OwnerChoice.ACCEPT and self.blocked_by is not None:
            raise IllegalTransition(f"portfolio is blocked by {self.blocked_by}")
        decided = optimization.decide(choice, now)
        cleared = replace(self, awaiting_owner=None)
        if choice is OwnerChoice.ACCEPT:
            return OwnerDecision(cleared.block(decided), decided)
        if choice is OwnerChoice.REJECT:
            return OwnerDecision(cleared, decided)
        again = Trigger(
            TriggerReason.MANUAL,
            Initiator.API,
            run_type=optimization.run_type,
            amount=optimization.amount,
        )
        return OwnerDecision(cleared, decided, again)

    def expire_if_due(
        self, optimization: Optimization, now: datetime, max_wait: timedelta
    ) -> OwnerDecision:
        if not optimization.is_expired(now, max_wait):
            return OwnerDecision(self, optimization)
        expired = optimization.apply(OptimizationEvent.EXPIRED, now)
        current = self.awaiting_owner
        mine = current is not None and current.optimization_id == optimization.optimization_id
        return OwnerDecision(replace(self, awaiting_owner=None) if mine else self, expired)

    def block(self, optimization: Optimization) -> Portfolio:
        """A READY optimization blocks the portfolio until its run is over (runs.py)."""
        if optimization.status is not OptimizationStatus.READY:
            raise IllegalTransition(f"only a READY optimization blocks, not {optimization.status}")
        return replace(
            self,
            blocked_by=optimization.optimization_id,
            blocked_run_type=optimization.run_type,
            blocked_at=optimization.status_changed_at or optimization.created_at,
        )

    def stale_block(self, now: datetime, deadline: timedelta) -> timedelta | None:
        """How long the portfolio has been blocked, when that is at least `deadline` (its run's
        outcome may have been lost, e.g. by a broker that lost records); else None."""
        if self.blocked_by is None or self.blocked_at is None:
            return None
        blocked_for = now - self.blocked_at
        return blocked_for if blocked_for >= deadline else None

    # -- a run's outcome (runs.py) and the CLIENT integration's wait ---------------------------

    def apply_run(
        self,
        executed: Mapping[str, Decimal],
        cash_delta: Decimal,
        last_execution_at: datetime | None,
    ) -> Portfolio:
        """A run's executed trades (signed qty) and cash delta. PLATFORM: into holdings and cash.
        CLIENT: into the optimizer's own book as well, unless a client snapshot newer than the
        run's last execution already shows them; then the portfolio waits for such a snapshot
        (it replaces the book; an older one is ignored from now on) or for the deadline
        (`client_holdings_late`)."""
        if self.settings.broker_integration is BrokerIntegration.PLATFORM:
            return self.apply_holdings_delta(executed, cash_delta)
        at = last_execution_at
        if at is None or (self.holdings_as_of is not None and self.holdings_as_of > at):
            return self
        booked = self.apply_holdings_delta(executed, cash_delta)
        return replace(booked, awaiting_client_holdings_after=at, holdings_as_of=at)

    def unblock(self, optimization_id: str) -> Portfolio:
        """The blocking optimization's run is over; another optimization id changes nothing."""
        if self.blocked_by != optimization_id:
            return self
        return replace(self, blocked_by=None, blocked_run_type=None, blocked_at=None, origin=None)

    def replanned(self, origin: Origin | None) -> Portfolio:
        """Unblocked by a run stopped before any order left (re-plan): what its optimization
        used up is given back (replan.py); what arrived meanwhile stays."""
        if origin is None:
            return self
        return replace(
            self,
            last_automatic_optimization_day=origin.automatic_day,
            funded=origin.funded or any(qty > 0 for qty in self.holdings.values()),
            targets_changed=self.targets_changed or origin.targets_changed,
            cooldown_waived=self.cooldown_waived or origin.cooldown_waived,
            deferred=self.deferred or origin.deferred,
        )

    def carry(self, carried: Mapping[str, Decimal]) -> Portfolio:
        """What a recommended plan leaves carried forward (carry_forward.py)."""
        kept = {s: carried[s] for s in sorted(carried) if carried[s] != 0}
        return self if kept == dict(self.carried) else replace(self, carried=kept)

    def rebalanced(self, day: date) -> Portfolio:
        """A full rebalance completed on `day` (the cooldown's start); never moved back."""
        if self.last_rebalanced_at is not None and self.last_rebalanced_at >= day:
            return self
        return replace(self, last_rebalanced_at=day)

    def client_holdings_late(self, now: datetime, wait: timedelta | None) -> bool:
        """CLIENT: no snapshot newer than the run's last execution came within `wait` of it
        (None: no deadline, wait for the client forever)."""
        after = self.awaiting_client_holdings_after
        return after is not None and wait is not None and now >= after + wait

    def awaits_client_holdings(self, now: datetime, wait: timedelta | None) -> bool:
        waiting = self.awaiting_client_holdings_after is not None
        return waiting and not self.client_holdings_late(now, wait)
