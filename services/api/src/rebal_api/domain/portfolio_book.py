"""InvestSuite's portfolio in the read model: settings, holdings, cash, block state (pure).

The optimizer owns the portfolio and publishes no event with its book, so the api keeps its own
copy from the same inputs, with the optimizer's rules (`rebal_optimizer.domain`): settings patch
only the fields an event names; a snapshot replaces holdings (and cash, when given) unless it is
not newer than the last one; a delta adds; a deposit adds once per `deposit_id`; a run's trades
(run.completed or run.settled, whichever comes first) apply once: PLATFORM always, CLIENT only
when no client snapshot newer than the run's last execution shows them already; a withdrawal
request replaces the pending amount, a negative cash delta or a smaller snapshot while nothing
is in flight pays it out. A READY optimization blocks the portfolio until its run is settled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_api.domain.views import WeightView

ZERO = Decimal(0)
KEPT = 50
"""How many applied runs and deposit ids a portfolio remembers (its duplicates arrive soon)."""


@dataclass(frozen=True)
class SettingsView:
    """The optimizer's defaults until an event names a field."""

    mandate: str = "DISCRETIONARY"
    broker_integration: str = "PLATFORM"
    optimizer: str = "PLATFORM"
    model_id: str | None = None
    target_weights: tuple[WeightView, ...] = ()
    fractional_trading: bool = True
    min_order_notional: Decimal = Decimal("1.00")
    cash_buffer_percent: Decimal = ZERO
    invest_cash_threshold: Decimal = Decimal(10)
    active: bool = True
    rebalance_to: str = "target"
    band_edge_margin_percent: Decimal = Decimal(20)
    lot_policy: str = "fifo"
    wash_sale_guard: str = "off"
    commission_per_order: Decimal = ZERO
    spread_bps: Decimal = ZERO
    spread_bps_by_symbol: Mapping[str, Decimal] = field(default_factory=dict)
    cost_gate_threshold: Decimal = ZERO
    carry_forward_skipped: bool = False
    max_order_retries: int = 0


PLAIN_SETTING_FIELDS = frozenset(f.name for f in fields(SettingsView)) - {
    "model_id",
    "target_weights",
}
"""The settings that are values of their own: a patch that names one replaces it."""


@dataclass(frozen=True)
class BlockView:
    """The READY optimization whose run blocks the portfolio (its run id is the same id)."""

    optimization_id: str
    run_type: str
    since: datetime


@dataclass(frozen=True)
class PortfolioView:
    portfolio_id: str
    account_id: str | None
    settings: SettingsView
    created_at: datetime
    updated_at: datetime
    cash: Decimal = ZERO
    holdings: Mapping[str, Decimal] = field(default_factory=dict)
    holdings_as_of: datetime | None = None
    pending_withdrawal: Decimal = ZERO
    full_withdrawal: bool = False
    block: BlockView | None = None
    last_optimization_id: str | None = None
    applied_runs: tuple[str, ...] = ()
    settled_runs: tuple[str, ...] = ()
    recent_deposits: tuple[str, ...] = ()


def _remember(items: tuple[str, ...], item: str) -> tuple[str, ...]:
    return (*items, item)[-KEPT:]


def settings_patched(
    current: PortfolioView | None,
    portfolio_id: str,
    present: Mapping[str, Any],
    at: datetime,
) -> PortfolioView:
    """`portfolio.settings_changed` with the fields it names (`present`, null included), as the
    optimizer applies them: null leaves a setting unchanged (a cash buffer of 0 removes it),
    except that it ends a subscription (`model_id`) or the own weights (`target_weights`); a
    model and own weights exclude each other. Creates the portfolio on first sight."""
    view = current or PortfolioView(portfolio_id, None, SettingsView(), at, at)
    changes: dict[str, Any] = {
        name: value
        for name, value in present.items()
        if value is not None and name in PLAIN_SETTING_FIELDS
    }
    if "model_id" in present:
        changes["model_id"] = present["model_id"]
        if present["model_id"] is not None:
            changes["target_weights"] = ()
    if "target_weights" in present:
        changes["target_weights"] = tuple(present["target_weights"] or ())
        if present["target_weights"]:
            changes["model_id"] = None
    account_id = present.get("account_id") or view.account_id
    settings = replace(view.settings, **changes)
    return replace(view, account_id=account_id, settings=settings, updated_at=at)


def holdings_reported(
    current: PortfolioView | None,
    holdings: Mapping[str, Decimal],
    *,
    snapshot: bool,
    cash: Decimal | None,
    as_of: datetime,
    at: datetime,
) -> PortfolioView | None:
    """A snapshot (replaces; no `cash` keeps the cash) or a delta (adds); None: unknown
    portfolio, or nothing changed (an older snapshot)."""
    if current is None:
        return None
    if snapshot:
        if current.holdings_as_of is not None and as_of <= current.holdings_as_of:
            return None
        after = replace(
            current,
            holdings=dict(holdings),
            cash=cash if cash is not None else current.cash,
            holdings_as_of=as_of,
        )
        left = current.cash - after.cash if current.block is None else ZERO
    else:
        after = _added(current, holdings, cash or ZERO)
        left = -(cash or ZERO)
    paid = min(current.pending_withdrawal, left) if left > 0 else ZERO
    pending = current.pending_withdrawal - paid
    return replace(after, pending_withdrawal=pending, updated_at=at)


def _added(view: PortfolioView, deltas: Mapping[str, Decimal], cash: Decimal) -> PortfolioView:
    merged = dict(view.holdings)
    for symbol, delta in deltas.items():
        merged[symbol] = merged.get(symbol, ZERO) + delta
    return replace(view, holdings=merged, cash=view.cash + cash)


def cash_deposited(
    current: PortfolioView | None, amount: Decimal, deposit_id: str | None, at: datetime
) -> PortfolioView | None:
    if current is None or (deposit_id is not None and deposit_id in current.recent_deposits):
        return None
    deposits = (
        current.recent_deposits
        if deposit_id is None
        else _remember(current.recent_deposits, deposit_id)
    )
    return replace(current, cash=current.cash + amount, recent_deposits=deposits, updated_at=at)


def withdrawal_requested(
    current: PortfolioView | None, amount: Decimal | None, at: datetime
) -> PortfolioView | None:
    """The total to raise (it replaces the pending one), or everything (`amount` None: the
    optimizer values it at its last prices, which the api does not know)."""
    if current is None:
        return None
    return replace(
        current,
        pending_withdrawal=amount if amount is not None else ZERO,
        full_withdrawal=amount is None,
        updated_at=at,
    )


def optimized(current: PortfolioView | None, optimization_id: str) -> PortfolioView | None:
    if current is None or current.last_optimization_id == optimization_id:
        return None
    return replace(current, last_optimization_id=optimization_id)


def blocked(
    current: PortfolioView | None, optimization_id: str, run_type: str, at: datetime
) -> PortfolioView | None:
    """A READY optimization blocks the portfolio (unless its run was settled already: the
    events of a run come on several topics, in any order)."""
    if current is None or optimization_id in current.settled_runs:
        return None
    if current.block is not None and current.block.optimization_id == optimization_id:
        return None
    return replace(current, block=BlockView(optimization_id, run_type, at), updated_at=at)


def run_finished(
    current: PortfolioView | None,
    run_id: str,
    holdings_delta: Mapping[str, Decimal],
    cash_delta: Decimal,
    last_execution_at: datetime | None,
    *,
    settled: bool,
    at: datetime,
) -> PortfolioView | None:
    """run.completed / run.settled: the run's trades once; run.settled also unblocks."""
    if current is None:
        return None
    view = current
    if run_id not in view.applied_runs:
        view = replace(view, applied_runs=_remember(view.applied_runs, run_id))
        if view.settings.broker_integration == "PLATFORM":
            view = _applied(view, holdings_delta, cash_delta)
        elif last_execution_at is not None and (
            view.holdings_as_of is None or view.holdings_as_of <= last_execution_at
        ):
            view = replace(
                _applied(view, holdings_delta, cash_delta), holdings_as_of=last_execution_at
            )
    if settled and run_id not in view.settled_runs:
        view = replace(view, settled_runs=_remember(view.settled_runs, run_id))
        if view.block is not None and view.block.optimization_id == run_id:
            view = replace(view, block=None)
    return None if view == current else replace(view, updated_at=at)


def _applied(view: PortfolioView, deltas: Mapping[str, Decimal], cash: Decimal) -> PortfolioView:
    """A sale never takes a holding below zero (the optimizer clamps it too)."""
    floored = {s: max(d, -view.holdings.get(s, ZERO)) for s, d in deltas.items()}
    return _added(view, floored, cash)
