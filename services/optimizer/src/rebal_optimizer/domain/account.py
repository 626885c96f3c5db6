"""The optimizer's aggregate: one portfolio account — the `Portfolio` (holdings, cash, settings,
block), the optimization waiting for its owner (in full, so a decision or the expiry sweep can
move it) and its deadline, and the idempotency keys of the facts already applied (deposit ids,
scheduler slots, external optimization ids, runs whose trades were applied: runs.py).

Every state change is a method returning a new account; nothing is mutated. The service layer
loads an account, calls one of these, translates the result into messages and commits it.

`ready_event` is opaque text to the domain: the optimization.ready of the blocking optimization
exactly as it was published (its wire times cannot be derived again; the service layer publishes
it again after the broker lost records). It lives on the aggregate, not only in the document,
because its rule is the block's: kept while `portfolio.blocked_by` is that optimization, dropped
once unblocked (`follow_block`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain import evaluation
from rebal_optimizer.domain.drift import portfolio_value
from rebal_optimizer.domain.enums import OwnerChoice, RunType
from rebal_optimizer.domain.governance import PendingSubscription
from rebal_optimizer.domain.lots import Lots, from_snapshot
from rebal_optimizer.domain.model_portfolio import ZERO, ModelPortfolio
from rebal_optimizer.domain.optimization import (
    ExternalOrder,
    Optimization,
    OptimizationEvent,
    OptimizationStatus,
)
from rebal_optimizer.domain.portfolio import OwnerDecision, Portfolio
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.settings import PortfolioSettings
from rebal_optimizer.domain.trading_days import TradingDays
from rebal_optimizer.domain.triggers import Trigger

RECENT_KEYS_KEPT = 50  # deposit, slot, external optimization, run and late-fill keys kept


def remember(keys: tuple[str, ...], key: str) -> tuple[str, ...]:
    return (*keys, key)[-RECENT_KEYS_KEPT:]


@dataclass(frozen=True)
class PortfolioAccount:
    portfolio: Portfolio
    account_id: str
    awaiting: Optimization | None = None  # the AWAITING_OWNER optimization, in full
    expires_at: datetime | None = None  # when `awaiting` expires
    recent_deposits: tuple[str, ...] = ()  # deposit_id idempotency keys (InvestSuite's)
    recent_slots: tuple[str, ...] = ()  # scheduler slots already evaluated
    recent_external: tuple[str, ...] = ()  # external_optimization_ids already submitted
    last_optimization_id: str | None = None
    ready_event: str | None = None  # the encoded optimization.ready of `portfolio.blocked_by`
    recent_runs: tuple[str, ...] = ()  # runs whose trades were applied (runs.py)
    pending_subscription: PendingSubscription | None = None  # to a model not read yet
    recent_expired: tuple[str, ...] = ()  # advisory optimizations that expired
    recent_late_fills: tuple[str, ...] = ()  # `run/leg` of late fills applied (runs.py)

    @classmethod
    def create(cls, portfolio_id: str, account_id: str | None) -> PortfolioAccount:
        return cls(Portfolio(portfolio_id), account_id or portfolio_id)

    @property
    def portfolio_id(self) -> str:
        return self.portfolio.portfolio_id

    def with_portfolio(self, portfolio: Portfolio) -> PortfolioAccount:
        return replace(self, portfolio=portfolio)

    # -- facts arriving on portfolio.patched --------------------------------------------------

    def change_settings(
        self,
        settings: PortfolioSettings,
        account_id: str | None = None,
        pending: PendingSubscription | None = None,
    ) -> PortfolioAccount:
        """`pending`: the new subscription's model is not read yet (governance.py)."""
        changed = self.with_portfolio(self.portfolio.change_settings(settings))
        if pending is not None:
            changed = replace(changed, pending_subscription=pending)
        return changed if account_id is None else replace(changed, account_id=account_id)

    def end_pending_subscription(self, refused: bool) -> PortfolioAccount:
        """The grace period is over: kept (the model arrived) or `refused` (the subscription
        ends, when the portfolio still follows that model)."""
        pending = self.pending_subscription
        cleared = replace(self, pending_subscription=None)
        settings = self.portfolio.settings
        if not refused or pending is None or settings.model_id != pending.model_id:
            return cleared
        return cleared.with_portfolio(
            self.portfolio.change_settings(replace(settings, model_id=None))
        )

    def report_holdings(
        self,
        holdings: Mapping[str, Decimal],
        *,
        snapshot: bool,
        cash: Decimal | None,
        as_of: datetime,
        lots: Lots | None = None,
        prices: Mapping[str, Decimal] | None = None,
    ) -> tuple[PortfolioAccount | None, Decimal]:
        """A snapshot (replaces; `cash` None keeps the cash) or a delta (adds). Returns None
        when nothing changed (an older snapshot, an empty delta), and the part of the pending
        withdrawal that this report shows was paid out. A snapshot's `lots` (per symbol, when
        the client reports them) replace the known ones; `prices` cost the lots it lacks
        (lots.py `from_snapshot`)."""
        before = self.portfolio
        if snapshot:
            after = before.apply_holdings_snapshot(
                holdings, cash if cash is not None else before.cash, as_of
            )
            if after != before:
                known = from_snapshot(after.holdings, lots, before.lots, prices or {}, as_of.date())
                after = replace(after, lots=known)
        else:
            after = before.apply_holdings_delta(holdings, cash or ZERO)
        if after == before:
            return None, ZERO
        paid = _withdrawal_paid_out(before, after, snapshot=snapshot, cash_delta=cash)
        if paid > 0:
            after = after.request_withdrawal(max(ZERO, before.pending_withdrawal - paid))
        return self.with_portfolio(after), paid

    def deposit(self, amount: Decimal, deposit_id: str | None) -> PortfolioAccount | None:
        """None when this deposit id was applied already."""
        if deposit_id is not None and deposit_id in self.recent_deposits:
            return None
        deposited = self.with_portfolio(self.portfolio.deposit_cash(amount))
        if deposit_id is None:
            return deposited
        return replace(deposited, recent_deposits=remember(self.recent_deposits, deposit_id))

    def full_withdrawal_amount(self, prices: Prices) -> Decimal:
        """`full`: everything the portfolio is worth at the last prices (unpriced holdings aside)."""
        holdings = self.portfolio.holdings
        priced = {s: q for s, q in holdings.items() if s in prices}
        return portfolio_value(priced, self.portfolio.cash, prices)

    def request_withdrawal(self, amount: Decimal) -> PortfolioAccount:
        return self.with_portfolio(self.portfolio.request_withdrawal(amount))

    # -- requests -------------------------------------------------------------------------------

    def take_slot(self, slot_id: str | None) -> PortfolioAccount | None:
        """None when this scheduler slot was evaluated already."""
        if slot_id is None:
            return self
        if slot_id in self.recent_slots:
            return None
        return replace(self, recent_slots=remember(self.recent_slots, slot_id))

    def take_external(self, external_id: str) -> PortfolioAccount | None:
        """None when this external optimization was submitted already."""
        if external_id in self.recent_external:
            return None
        return replace(self, recent_external=remember(self.recent_external, external_id))

    # -- evaluation -----------------------------------------------------------------------------

    @property
    def has_value(self) -> bool:
        """An empty portfolio (no holdings, no cash) is not evaluated: evaluating would only say
        "no portfolio value" and use up a new subscription or model change, which must wait for
        the first funding instead."""
        return bool(self.portfolio.holdings) or self.portfolio.cash != 0

    def evaluate(
        self,
        trigger: Trigger,
        model: ModelPortfolio | None,
        prices: Prices,
        *,
        optimization_id: str,
        now: datetime,
        today: date,
        trading_days: TradingDays,
        max_price_age: timedelta,
        client_holdings_wait: timedelta | None = None,
    ) -> evaluation.Evaluation:
        return evaluation.evaluate(
            self.portfolio,
            trigger,
            model,
            prices,
            optimization_id=optimization_id,
            now=now,
            today=today,
            trading_days=trading_days,
            max_price_age=max_price_age,
            client_holdings_wait=client_holdings_wait,
        )

    def submit_external(
        self,
        orders: Sequence[ExternalOrder],
        prices: Prices,
        *,
        optimization_id: str,
        now: datetime,
        max_price_age: timedelta,
        run_type: RunType = RunType.FULL_REBALANCE,
        client_holdings_wait: timedelta | None = None,
    ) -> evaluation.Evaluation:
        return evaluation.submit_external(
            self.portfolio,
            orders,
            prices,
            optimization_id=optimization_id,
            now=now,
            max_price_age=max_price_age,
            run_type=run_type,
            client_holdings_wait=client_holdings_wait,
        )

    def created(
        self, optimization: Optimization, now: datetime, max_wait: timedelta
    ) -> PortfolioAccount:
        """An optimization was created for it; one AWAITING_OWNER is kept, and expires
        `max_wait` (the advisory expiry) after now."""
        created = replace(self, last_optimization_id=optimization.optimization_id)
        if optimization.status is not OptimizationStatus.AWAITING_OWNER:
            return created
        return replace(created, awaiting=optimization, expires_at=now + max_wait)

    def supersede(self, now: datetime) -> tuple[PortfolioAccount, Optimization | None]:
        """A newer recommendation took the place of the one waiting for its owner: REPLACED."""
        previous = self.awaiting
        cleared = replace(self, awaiting=None, expires_at=None)
        if previous is None:
            return cleared, None
        return cleared, previous.apply(OptimizationEvent.REPLACED, now)

    # -- the owner's choice and the advisory expiry -----------------------------------------

    def awaits(self, optimization_id: str) -> bool:
        return self.awaiting is not None and self.awaiting.optimization_id == optimization_id

    def awaiting_expired(self, now: datetime, max_wait: timedelta) -> bool:
        return self.awaiting is not None and self.awaiting.is_expired(now, max_wait)

    def decide(self, choice: OwnerChoice, now: datetime) -> tuple[PortfolioAccount, OwnerDecision]:
        """The owner's choice on the optimization awaiting it (see `Portfolio.decide`)."""
        assert self.awaiting is not None
        decision = self.portfolio.decide(self.awaiting, choice, now)
        decided = replace(self.with_portfolio(decision.portfolio), awaiting=None, expires_at=None)
        return decided, decision

    def expire(self, now: datetime, max_wait: timedelta) -> tuple[PortfolioAccount, Optimization]:
        """The optimization awaiting its owner, expired (nobody decided in time)."""
        assert self.awaiting is not None
        decision = self.portfolio.expire_if_due(self.awaiting, now, max_wait)
        expired = replace(
            self.with_portfolio(decision.portfolio),
            awaiting=None,
            expires_at=None,
            recent_expired=remember(self.recent_expired, self.awaiting.optimization_id),
        )
        return expired, decision.optimization

    def forget_expiry(self) -> PortfolioAccount:
        """A deadline with nothing awaiting behind it (a stale index entry)."""
        return replace(self, expires_at=None)

    # -- the block --------------------------------------------------------------------------------

    def follow_block(self, ready: Mapping[str, str]) -> PortfolioAccount:
        """`ready_event` follows the block: the encoded ready event of the blocking optimization
        when `ready` (optimization id -> encoded event just published) has it, dropped once
        unblocked."""
        blocked_by = self.portfolio.blocked_by
        if blocked_by is None:
            return replace(self, ready_event=None) if self.ready_event is not None else self
        kept = ready.get(blocked_by)
        return replace(self, ready_event=kept) if kept is not None else self


def _withdrawal_paid_out(
    before: Portfolio, after: Portfolio, *, snapshot: bool, cash_delta: Decimal | None
) -> Decimal:
    """Cash that leaves the portfolio outside a run pays the pending withdrawal (InvestSuite's
    middleware moves the money, then resets `divest_amount`): a negative cash delta, or a
    snapshot with less cash while no run is in flight and none is being reported (the snapshot
    rebal waits for after a CLIENT run shows that run's trades, not a payout). Until then the
    raised cash stays reserved, so no invest_cash spends it again. Returns the amount paid."""
    pending = before.pending_withdrawal
    if pending <= 0:
        return ZERO
    if not snapshot:
        left = -(cash_delta or ZERO)
    elif before.blocked_by is None and before.awaiting_client_holdings_after is None:
        left = before.cash - after.cash
    else:
        left = ZERO
    return min(pending, left) if left > 0 else ZERO
