"""One portfolio through daily closes on the optimizer's production rules: the same
`PortfolioAccount.evaluate` the optimizer's handlers call (conditions, bands, cooldown, invest-cash
threshold, minimum notional, cash buffer, first funding, withdrawals), and the same `run_completed`
applying a run's fills, booking them into tax lots and unblocking. Orders fill in full at the
close they were planned at, so a sale's estimated gain (its lots under the portfolio's lot policy)
is the realized one.

Each trading day the scheduler's nightly batch evaluates the portfolio (`nightly`); a deposit day
evaluates the deposit (`deposit`) and a withdrawal day the withdrawal instead. Nothing here
decides when or what to trade.
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
from rebal_optimizer.domain.lot_ledger import Fill
from rebal_optimizer.domain.lots import RealizedGain
from rebal_optimizer.domain.model_portfolio import ModelPortfolio
from rebal_optimizer.domain.runs import RunResult, run_completed
from rebal_runtime.calendar import TradingCalendar, weekday_calendar

START = date(2026, 1, 5)
MAX_PRICE_AGE = timedelta(days=1)
ADVISORY_WAIT = timedelta(days=7)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Schedule:
    """The cash flows: `initial` on day 0, `deposit` every `deposit_every` trading days after it,
    and a `withdrawal` on the days `withdrawal_day` modulo `withdrawal_every` without a deposit."""

    initial: Decimal
    deposit: Decimal
    deposit_every: int
    withdrawal: Decimal = ZERO
    withdrawal_every: int = 1
    withdrawal_day: int = 0

    def deposit_on(self, index: int) -> Decimal:
        if index == 0:
            return self.initial
        return self.deposit if index % self.deposit_every == 0 else ZERO

    def withdrawal_on(self, index: int) -> Decimal:
        due = index % self.withdrawal_every == self.withdrawal_day
        return self.withdrawal if due and not self.deposit_on(index) else ZERO


@dataclass
class Ledger:
    """What a policy did over the path."""

    turnover: Decimal = ZERO  # traded notional after the first funding
    orders: int = 0
    rebalances: int = 0
    drift: list[float] = field(default_factory=list)  # largest |drift| after each day, points
    values: list[Decimal] = field(default_factory=list)
    flows: list[Decimal] = field(default_factory=list)  # cash deposited (withdrawn: < 0) that day
    cost: Decimal = ZERO  # commission + half-spread of the orders (settings' cost model)
    skipped: Decimal = ZERO  # notional of executed runs' orders below the minimum
    lost: Decimal = ZERO  # of it: neither traded nor carried (dropped)
    carried_at_end: Decimal = ZERO  # still carried forward after the last day
    gated: int = 0  # full rebalances the cost gate skipped
    realized: RealizedGain = field(default_factory=RealizedGain)  # every sale's, day 0 included
    sales: int = 0  # sell orders that realized a gain or a loss
    unrealized: Decimal = ZERO  # of the lots still open, at the last close
    open_lots: int = 0  # at the end


def trading_dates(days: int) -> list[date]:
    calendar, day = weekday_calendar(), START
    out: list[date] = []
    while len(out) < days:
        if calendar.is_session(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def fresh_account(settings: PortfolioSettings, portfolio_id: str = "backtest") -> PortfolioAccount:
    return PortfolioAccount.create(portfolio_id, None).change_settings(settings)


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
    account: PortfolioAccount,
    model: ModelPortfolio,
    closes: list[dict[str, Decimal]],
    schedule: Schedule,
) -> Ledger:
    """`account` (its settings are the policy) through `closes`, one a trading day from START."""
    calendar = weekday_calendar()
    settings = account.portfolio.settings
    targets = TargetWeights.from_weights(model.weights)
    ledger = Ledger()
    for index, (today, close) in enumerate(zip(trading_dates(len(closes)), closes, strict=True)):
        now = datetime(today.year, today.month, today.day, 21, tzinfo=UTC)
        prices = {s: Price(p, True, True, now) for s, p in close.items()}
        account, reason, flow = _cash_flow(account, schedule, index)
        account, optimization = evaluate_day(
            account, reason, model, prices, index, now, today, calendar
        )
        if optimization is not None:
            _count_skips(ledger, settings, optimization)
        if optimization is not None and optimization.status is OptimizationStatus.READY:
            account = _executed(account, optimization, ledger, index, now)
        account, paid = _paid_out(account)
        flow -= paid
        book = account.portfolio
        drifts = compute_drifts(book.holdings, book.cash, prices, targets)
        ledger.drift.append(max((float(d.absolute) for d in drifts), default=0.0))
        ledger.values.append(
            book.cash + sum((q * close[s] for s, q in book.holdings.items()), ZERO)
        )
        ledger.flows.append(flow)
    ledger.carried_at_end = sum((abs(v) for v in account.portfolio.carried.values()), ZERO)
    _count_open_lots(ledger, account, closes[-1])
    return ledger


def _cash_flow(
    account: PortfolioAccount, schedule: Schedule, index: int
) -> tuple[PortfolioAccount, TriggerReason, Decimal]:
    """The day's deposit or withdrawal request, the trigger it evaluates under, the flow."""
    deposit = schedule.deposit_on(index)
    if deposit:
        account = account.deposit(deposit, f"deposit-{index}") or account
        return account, TriggerReason.DEPOSIT, deposit
    withdrawal = schedule.withdrawal_on(index)
    if withdrawal:
        return account.request_withdrawal(withdrawal), TriggerReason.WITHDRAWAL, ZERO
    return account, TriggerReason.NIGHTLY, ZERO


def _executed(
    account: PortfolioAccount,
    optimization: Optimization,
    ledger: Ledger,
    index: int,
    now: datetime,
) -> PortfolioAccount:
    """The optimization's orders filled in full at their expected price, booked on the account
    (holdings, cash, lots, cooldown, unblock)."""
    settings, today = account.portfolio.settings, now.date()
    delta: dict[str, Decimal] = {}
    cash, fills = ZERO, []
    for order in optimization.orders:
        sign = 1 if order.side is Side.BUY else -1
        delta[order.symbol] = delta.get(order.symbol, ZERO) + sign * order.qty
        cash -= sign * order.notional
        fills.append(Fill(order.symbol, order.side, order.qty, order.expected_price, today))
        if order.side is Side.SELL and order.gain is not None:
            ledger.realized, ledger.sales = ledger.realized.plus(order.gain), ledger.sales + 1
        if index:
            ledger.turnover += order.notional
            ledger.orders += 1
            ledger.cost += settings.cost_model.order_cost(order.symbol, order.notional)
    full = optimization.run_type is RunType.FULL_REBALANCE
    ledger.rebalances += 1 if full and index else 0
    run = RunResult(optimization.optimization_id, delta, cash, now, fills=tuple(fills))
    step = run_completed(account, run, completed_on=today if full else None, unblock=True)
    return step.account if step is not None else account


def _paid_out(account: PortfolioAccount) -> tuple[PortfolioAccount, Decimal]:
    """The platform pays a pending withdrawal out of the cash there is at the day's end: the
    cash a withdrawal run raised, or cash that covered it already (then no run was needed)."""
    book = account.portfolio
    paid = max(ZERO, min(book.pending_withdrawal, book.cash))
    if paid == 0:
        return account, ZERO
    return account.with_portfolio(book.withdraw_cash(paid)), paid


def _count_open_lots(ledger: Ledger, account: PortfolioAccount, last: dict[str, Decimal]) -> None:
    """The lots left at the end and their gain at the last close, to the cent."""
    book = account.portfolio.lots
    unrealized = sum(
        (lot.qty * (last[s] - lot.cost_per_share) for s, held in book.items() for lot in held),
        ZERO,
    )
    ledger.unrealized = unrealized.quantize(Decimal("0.01"))
    ledger.open_lots = sum(len(held) for held in book.values())


_DROPPED = re.compile(r"carried ([+-][0-9.]+) USD dropped")


def _count_skips(ledger: Ledger, settings: PortfolioSettings, optimization: Optimization) -> None:
    """What fell below the minimum notional in a run, and what of it is lost: all of it without
    carry-forward, else only what was dropped (carry_forward.py says how much in its reason)."""
    if any(r.code == "COST_GATE" for r in optimization.reasons):
        ledger.gated += 1
    if optimization.status is not OptimizationStatus.READY:
        return
    skipped = sum((s.notional for s in optimization.skipped_orders), ZERO)
    ledger.skipped += skipped
    if not settings.carry_forward_skipped:
        ledger.lost += skipped
        return
    for reason in optimization.reasons:
        found = _DROPPED.search(reason.detail) if reason.code == "CARRY_DROPPED" else None
        if found:
            ledger.lost += abs(Decimal(found.group(1)))
