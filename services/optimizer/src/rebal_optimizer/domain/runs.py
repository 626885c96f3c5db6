"""A run's outcome on the portfolio account (docs/design.md §3 "Runs"): `run.completed` when every
order is final (execution), `run.settled` when every transaction is (settlement).

The run's trades are applied once, by whichever of the two comes first (both carry the cash and
holdings deltas): the account remembers the run (`recent_runs`), so the other one, a duplicate or
a re-report applies nothing again. The portfolio unblocks on run.settled, or already on
run.completed where the deployment unblocks on execution; a run that no longer blocks it unblocks
nothing. A completed full rebalance starts the cooldown on the trading day of its completion
(`completed_on`, never moved back); a run.settled read first starts it on the day of the last
execution, which is not after the completion, so the order of arrival leaves the same state.

A run stopped at its start because its prices moved (`replan`: no order sent, CANCELED) starts no
cooldown; the event that unblocks the portfolio gives back what its optimization used up and
names the trigger to plan it again under (`RunStep.replan`, replan.py), once: only the event that
unblocks carries it.

A late fill (`transaction.settled` `late`: executed after its run ended, not in its run.completed)
is applied to a PLATFORM book once per run and leg (`recent_late_fills`), clamped like a run's
trades; it leaves the block and the cooldown alone. A CLIENT book ignores it: the client's next
holdings snapshot is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from rebal_optimizer.domain.account import PortfolioAccount, remember
from rebal_optimizer.domain.allocation import CENT
from rebal_optimizer.domain.enums import BrokerIntegration, RunType, Side
from rebal_optimizer.domain.lot_ledger import Fill, booked
from rebal_optimizer.domain.model_portfolio import ZERO
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.replan import replan_trigger
from rebal_optimizer.domain.triggers import Trigger


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did, as run.completed and run.settled both report it."""

    optimization_id: str  # the run's id
    holdings_delta: Mapping[str, Decimal]  # signed quantities: buys add, sells subtract
    cash_delta: Decimal
    last_execution_at: datetime | None
    replan: bool = False  # stopped at its start (prices moved): nothing executed, plan again
    fills: tuple[Fill, ...] = ()  # per order, for the lots (run.settled carries none)


@dataclass(frozen=True, slots=True)
class Clamp:
    """An executed sale larger than the holding, applied only down to zero."""

    symbol: str
    delta: Decimal
    held: Decimal


@dataclass(frozen=True, slots=True)
class RunStep:
    account: PortfolioAccount
    applied: bool  # this event applied the run's trades
    unblocked: bool  # this event unblocked the portfolio
    clamps: tuple[Clamp, ...] = ()
    replan: Trigger | None = None  # this event unblocked a re-plan: evaluate under it now


def run_completed(
    account: PortfolioAccount,
    run: RunResult,
    *,
    completed_on: date | None,
    unblock: bool,
) -> RunStep | None:
    """Every order of the run is final. `completed_on`: the trading day of its completion when it
    is a full rebalance (else None); `unblock`: the deployment unblocks on execution. None when
    the run is not this portfolio's (neither blocking it nor applied) or nothing changed."""
    taken = _take(account, run)
    if taken is None:
        return None
    step, portfolio = taken, taken.account.portfolio
    if completed_on is not None and not run.replan:
        portfolio = portfolio.rebalanced(completed_on)
    if unblock:
        portfolio = portfolio.unblock(run.optimization_id)
    return _finished(account, step, portfolio, run.replan)


def run_settled(
    account: PortfolioAccount, run: RunResult, *, executed_on: date | None
) -> RunStep | None:
    """Every transaction of the run is final: unblock. `executed_on`: the trading day of its last
    execution, the cooldown's start until run.completed gives the completion's."""
    full_rebalance = account.portfolio.blocked_run_type is RunType.FULL_REBALANCE
    taken = _take(account, run)
    if taken is None:
        return None
    step, portfolio = taken, taken.account.portfolio
    if step.applied and full_rebalance and executed_on is not None and not run.replan:
        portfolio = portfolio.rebalanced(executed_on)
    return _finished(account, step, portfolio.unblock(run.optimization_id), run.replan)


def _take(account: PortfolioAccount, run: RunResult) -> RunStep | None:
    """The run's trades applied, unless they were already; None for a run that does not block
    this portfolio and was never applied on it (another optimization's)."""
    if run.optimization_id in account.recent_runs:
        return RunStep(account, applied=False, unblocked=False)
    portfolio = account.portfolio
    if portfolio.blocked_by != run.optimization_id:
        return None
    applicable, clamps = _applicable(portfolio, run.holdings_delta)
    applied = portfolio.apply_run(applicable, run.cash_delta, run.last_execution_at)
    if run.last_execution_at is not None:
        applied = booked(portfolio, applied, run.fills, run.last_execution_at.date())
    if applied == portfolio:  # nothing to apply (a CLIENT snapshot already shows it)
        clamps = ()
    taken = replace(
        account.with_portfolio(applied),
        recent_runs=remember(account.recent_runs, run.optimization_id),
    )
    return RunStep(taken, applied=True, unblocked=False, clamps=clamps)


def _finished(
    before: PortfolioAccount, step: RunStep, portfolio: Portfolio, replan: bool
) -> RunStep | None:
    blocked = before.portfolio
    unblocked = blocked.blocked_by is not None and portfolio.blocked_by is None
    trigger = None
    if unblocked and replan:
        assert blocked.blocked_by is not None
        origin = blocked.origin
        if origin is not None and origin.optimization_id != blocked.blocked_by:
            origin = None
        portfolio = portfolio.replanned(origin)
        trigger = replan_trigger(origin, blocked.blocked_by, blocked.blocked_run_type)
    after = step.account.with_portfolio(portfolio)
    if after == before:
        return None
    return replace(step, account=after, unblocked=unblocked, replan=trigger)


def _applicable(
    portfolio: Portfolio, deltas: Mapping[str, Decimal]
) -> tuple[dict[str, Decimal], tuple[Clamp, ...]]:
    """The executed trades as they can be applied: a sale never takes a holding below zero
    (holdings replaced by a snapshot during the run may already show it); the alternative,
    refusing the outcome, would leave the portfolio blocked forever."""
    applicable = {}
    clamps = []
    for symbol, delta in deltas.items():
        floor = -portfolio.holdings.get(symbol, ZERO)
        if delta < floor:
            clamps.append(Clamp(symbol, delta, -floor))
        applicable[symbol] = max(delta, floor)
    return applicable, tuple(clamps)


@dataclass(frozen=True, slots=True)
class LateFill:
    """A fill reported after its run had ended (`transaction.settled` with `late`)."""

    run_id: str
    leg: int
    symbol: str
    side: Side
    qty: Decimal  # positive
    avg_price: Decimal

    @property
    def key(self) -> str:
        return f"{self.run_id}/{self.leg}"

    @property
    def cash_amount(self) -> Decimal:
        """qty * avg_price rounded half-up to cents, as run.completed's cash delta per leg."""
        return (self.qty * self.avg_price).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class LateFillStep:
    account: PortfolioAccount
    clamps: tuple[Clamp, ...] = ()  # a sale beyond the holding, a buy beyond the cash


def late_fill(account: PortfolioAccount, fill: LateFill) -> LateFillStep | None:
    """The fill on the PLATFORM book, once per run and leg: a buy adds the quantity and spends
    its cash, a sale the other way; neither the holding nor the cash goes below zero (the fill
    happened; refusing it would only lose it). None for a CLIENT portfolio (its holdings snapshot
    is the truth) or a leg applied already. Block and cooldown are left alone."""
    portfolio = account.portfolio
    if portfolio.settings.broker_integration is not BrokerIntegration.PLATFORM:
        return None
    if fill.key in account.recent_late_fills:
        return None
    sign = Decimal(1) if fill.side is Side.BUY else Decimal(-1)
    holdings, clamps = _applicable(portfolio, {fill.symbol: sign * fill.qty})
    cash_delta = -sign * fill.cash_amount
    floor = -max(portfolio.cash, ZERO)
    clamped = list(clamps)
    if cash_delta < floor:
        clamped.append(Clamp("cash", cash_delta, -floor))
        cash_delta = floor
    applied = replace(
        account.with_portfolio(portfolio.apply_holdings_delta(holdings, cash_delta)),
        recent_late_fills=remember(account.recent_late_fills, fill.key),
    )
    return LateFillStep(applied, tuple(clamped))
