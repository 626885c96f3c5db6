"""A run's outcome on the portfolio account (docs/design.md §3 "Runs"): `run.completed` when every
order is final (execution), `run.settled` when every transaction is (settlement).

The run's trades are applied once, by whichever of the two comes first (both carry the cash and
holdings deltas): the account remembers the run (`recent_runs`), so the other one, a duplicate or
a re-report applies nothing again. The portfolio unblocks on run.settled, or already on
run.completed where the deployment unblocks on execution; a run that no longer blocks it unblocks
nothing. A completed full rebalance starts the cooldown on the trading day of its completion
(`completed_on`, never moved back); a run.settled read first starts it on the day of the last
execution, which is not after the completion, so the order of arrival leaves the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from rebal_optimizer.domain.account import PortfolioAccount, remember
from rebal_optimizer.domain.enums import RunType
from rebal_optimizer.domain.model_portfolio import ZERO
from rebal_optimizer.domain.portfolio import Portfolio


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run did, as run.completed and run.settled both report it."""

    optimization_id: str  # the run's id
    holdings_delta: Mapping[str, Decimal]  # signed quantities: buys add, sells subtract
    cash_delta: Decimal
    last_execution_at: datetime | None


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
    if completed_on is not None:
        portfolio = portfolio.rebalanced(completed_on)
    if unblock:
        portfolio = portfolio.unblock(run.optimization_id)
    return _finished(account, step, portfolio)


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
    if step.applied and full_rebalance and executed_on is not None:
        portfolio = portfolio.rebalanced(executed_on)
    return _finished(account, step, portfolio.unblock(run.optimization_id))


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
    if applied == portfolio:  # nothing to apply (a CLIENT snapshot already shows it)
        clamps = ()
    taken = replace(
        account.with_portfolio(applied),
        recent_runs=remember(account.recent_runs, run.optimization_id),
    )
    return RunStep(taken, applied=True, unblocked=False, clamps=clamps)


def _finished(before: PortfolioAccount, step: RunStep, portfolio: Portfolio) -> RunStep | None:
    after = step.account.with_portfolio(portfolio)
    if after == before:
        return None
    unblocked = before.portfolio.blocked_by is not None and portfolio.blocked_by is None
    return replace(step, account=after, unblocked=unblocked)


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
