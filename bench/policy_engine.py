"""One portfolio through a year of daily closes on the optimizer's production rules: the same
`PortfolioAccount.evaluate` the optimizer's handlers call (conditions, bands, cooldown, invest-cash
threshold, minimum notional, cash buffer, first funding), and the same `run_completed` applying a
run's fills and unblocking. Orders fill in full at the day's close.

Each trading day the scheduler's nightly batch evaluates the portfolio (`nightly`); a deposit
day evaluates the deposit (`deposit`) instead. Nothing here decides when or what to trade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain import (
    Optimization,
    OptimizationStatus,
    PortfolioSettings,
    Price,
    RunType,
    Side,
    TargetWeights,
    Trigger,
    TriggerReason,
    compute_drifts,
)
from rebal_optimizer.domain.account import PortfolioAccount
from rebal_optimizer.domain.model_portfolio import ModelPortfolio
from rebal_optimizer.domain.runs import RunResult, run_completed
from rebal_runtime.calendar import TradingCalendar, weekday_calendar

START = date(2026, 1, 5)
MAX_PRICE_AGE = timedelta(days=1)
ADVISORY_WAIT = timedelta(days=7)


@dataclass
class Ledger:
    """What a policy did over the path."""

    turnover: Decimal = Decimal(0)  # traded notional after the first funding
    orders: int = 0
    rebalances: int = 0
    drift: list[float] = field(default_factory=list)  # largest |drift| after each day, points
    values: list[Decimal] = field(default_factory=list)
    flows: list[Decimal] = field(default_factory=list)  # cash deposited that day
    cost: Decimal = Decimal(0)  # commission + half-spread of the orders (settings' cost model)
    skipped: Decimal = Decimal(0)  # notional of executed runs' orders below the minimum
    lost: Decimal = Decimal(0)  # of it: neither traded nor carried (dropped)
    carried_at_end: Decimal = Decimal(0)  # still carried forward after the last day
    gated: int = 0  # full rebalances the cost gate skipped


def trading_dates(days: int) -> list[date]:
    calendar, day = weekday_calendar(), START
    out: list[date] = []
    while len(out) < days:
        if calendar.is_session(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def evaluate_day(
    account: PortfolioAccount,
    reason: TriggerReason,
    model: ModelPortfolio,
    prices: dict[str, Price],
    index: int,
    now: datetime,
    today: date,
    calendar: TradingCalendar,
) -> tuple[PortfolioAccount, Optimization | None]:
    """One day's evaluation on the production rules, its optimization recorded on the account."""
    result = account.evaluate(
        Trigger(reason),
        model,
        prices,
        optimization_id=f"O{index:05d}",
        now=now,
        today=today,
        trading_days=calendar,
        max_price_age=MAX_PRICE_AGE,
    )
    account = account.with_portfolio(result.portfolio)
    if result.optimization is not None:
        account = account.created(result.optimization, now, ADVISORY_WAIT)
    return account, result.optimization


def simulate(
    settings: PortfolioSettings,
    model: ModelPortfolio,
    closes: list[dict[str, Decimal]],
    *,
    initial: Decimal,
    deposit: Decimal,
    deposit_every: int,
) -> Ledger:
    calendar = weekday_calendar()
    targets = TargetWeights.from_weights(model.weights)
    account = PortfolioAccount.create("backtest", None).change_settings(settings)
    ledger = Ledger()
    for index, (today, close) in enumerate(zip(trading_dates(len(closes)), closes, strict=True)):
        now = datetime(today.year, today.month, today.day, 21, tzinfo=UTC)
        prices = {s: Price(p, True, True, now) for s, p in close.items()}
        flow = initial if index == 0 else deposit if index % deposit_every == 0 else Decimal(0)
        reason = TriggerReason.NIGHTLY
        if flow:
            account = account.deposit(flow, f"deposit-{index}") or account
            reason = TriggerReason.DEPOSIT
        account, optimization = evaluate_day(
            account, reason, model, prices, index, now, today, calendar
        )
        if optimization is not None:
            _count_skips(ledger, settings, optimization)
        if optimization is not None and optimization.status is OptimizationStatus.READY:
            delta: dict[str, Decimal] = {}
            cash = Decimal(0)
            for order in optimization.orders:
                sign = 1 if order.side is Side.BUY else -1
                delta[order.symbol] = delta.get(order.symbol, Decimal(0)) + sign * order.qty
                cash -= sign * order.notional
                if index:
                    ledger.turnover += order.notional
                    ledger.orders += 1
                    ledger.cost += settings.cost_model.order_cost(order.symbol, order.notional)
            full = optimization.run_type is RunType.FULL_REBALANCE
            ledger.rebalances += 1 if full and index else 0
            step = run_completed(
                account,
                RunResult(optimization.optimization_id, delta, cash, now),
                completed_on=today if full else None,
                unblock=True,
            )
            if step is not None:
                account = step.account
        book = account.portfolio
        drifts = compute_drifts(book.holdings, book.cash, prices, targets)
        ledger.drift.append(max((float(d.absolute) for d in drifts), default=0.0))
        ledger.values.append(
            book.cash + sum((q * close[s] for s, q in book.holdings.items()), Decimal(0))
        )
        ledger.flows.append(flow)
    ledger.carried_at_end = sum((abs(v) for v in account.portfolio.carried.values()), Decimal(0))
    return ledger


_DROPPED = re.compile(r"carried ([+-][0-9.]+) USD dropped")


def _count_skips(ledger: Ledger, settings: PortfolioSettings, optimization: Optimization) -> None:
    """What fell below the minimum notional in a run, and what of it is lost: all of it without
    carry-forward, else only what was dropped (carry_forward.py says how much in its reason)."""
    if any(r.code == "COST_GATE" for r in optimization.reasons):
        ledger.gated += 1
    if optimization.status is not OptimizationStatus.READY:
        return
    skipped = sum((s.notional for s in optimization.skipped_orders), Decimal(0))
    ledger.skipped += skipped
    if not settings.carry_forward_skipped:
        ledger.lost += skipped
        return
    for reason in optimization.reasons:
        found = _DROPPED.search(reason.detail) if reason.code == "CARRY_DROPPED" else None
        if found:
            ledger.lost += abs(Decimal(found.group(1)))
