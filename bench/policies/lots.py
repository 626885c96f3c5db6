"""Lot policies side by side (`lot_policy`: fifo / hifo / tax_min) over a year of daily closes, on
the optimizer's production rules: the same `PortfolioAccount.evaluate` (conditions, bands,
cooldown, invest-cash threshold, minimum notional) and the same `run_completed` booking each
run's fills into tax lots. Same paths as `bench/policies/run.py` (its `closes`, the crash among
them), same Alpaca-style rebalancing to target; only the lot policy differs.

Two starts per scenario: `fresh` (100,000 cash on day 0: every lot is bought inside the year, so
every gain is short-term) and `seasoned` (the same 100,000 already held at target, in eight
quarterly lots bought over the two years before, at costs 30 % below to 10 % above today's
price: the long-term lots a portfolio moving in brings along). Both get 1,000 every 5 trading
days, so the deposits' buys open many lots, and pay out 4,000 every 21 (a withdrawal run: the
sales where the lot policy matters most, besides the rebalances). Orders fill in full at the close they were planned
at, so a sale's estimated gain is the realized one.

Prints per scenario and start: realized short- and long-term gain per policy, the unrealized gain
left at the end (tax_min defers gains, it does not make them disappear), the number of lots, and
the ratio of tax_min's short-term gain to fifo's; then whether the target (tax_min at least 30 %
less realized short-term gain than fifo on the crash scenario) is met.

    .venv/bin/python bench/policies/lots.py [--days 252] [--seeds 7,11,23]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.run import MODEL, TARGETS, closes
from policy_engine import evaluate_day, trading_dates
from rich.console import Console
from rich.table import Table

from rebal_optimizer.domain import (
    OptimizationStatus,
    PortfolioSettings,
    Price,
    RunType,
    Side,
    TriggerReason,
)
from rebal_optimizer.domain.account import PortfolioAccount
from rebal_optimizer.domain.lot_ledger import Fill
from rebal_optimizer.domain.lots import Lot, RealizedGain
from rebal_optimizer.domain.runs import RunResult, run_completed
from rebal_optimizer.domain.tax_policy import LotPolicy
from rebal_runtime.calendar import weekday_calendar

INITIAL, DEPOSIT, DEPOSIT_EVERY = Decimal(100_000), Decimal(1000), 5
WITHDRAWAL, WITHDRAWAL_EVERY, WITHDRAWAL_DAY = Decimal(4000), 21, 12  # a monthly payout
HISTORY_LOTS = 8  # quarterly lots over the two years before the start
TARGET_CUT = Decimal("0.30")  # tax_min must realize at least 30 % less short-term gain than fifo


@dataclass
class LotLedger:
    realized: RealizedGain
    unrealized: Decimal
    lots: int  # open lots at the end
    sales: int


def seasoned_lots(close: dict[str, Decimal], start: date) -> dict[str, tuple[Lot, ...]]:
    """The start's holdings at target, in quarterly lots bought 2 years .. 1 quarter before, at
    costs rising from 30 % below today's price to 10 % above it (an older lot is cheaper)."""
    lots: dict[str, tuple[Lot, ...]] = {}
    for symbol, weight in TARGETS.items():
        qty = (INITIAL * Decimal(str(weight)) / close[symbol]).quantize(Decimal(1))
        each = qty / HISTORY_LOTS
        symbol_lots = []
        for n in range(HISTORY_LOTS):
            cost = close[symbol] * (Decimal("0.70") + Decimal("0.40") * n / (HISTORY_LOTS - 1))
            acquired = start - timedelta(days=730 - 91 * n)
            symbol_lots.append(Lot(each, cost.quantize(Decimal("0.01")), acquired))
        lots[symbol] = tuple(symbol_lots)
    return lots


def simulate_lots(policy: LotPolicy, days: list[dict[str, Decimal]], seasoned: bool) -> LotLedger:
    calendar = weekday_calendar()
    dates = trading_dates(len(days))
    settings = PortfolioSettings(model_id=MODEL.model_id, lot_policy=policy)
    account = PortfolioAccount.create("lots", None).change_settings(settings)
    if seasoned:
        lots = seasoned_lots(days[0], dates[0])
        holdings = {s: sum((lot.qty for lot in held), Decimal(0)) for s, held in lots.items()}
        invested = sum((q * days[0][s] for s, q in holdings.items()), Decimal(0))
        as_of = datetime(dates[0].year, dates[0].month, dates[0].day, 14, tzinfo=UTC)
        reported, _ = account.report_holdings(
            holdings, snapshot=True, cash=INITIAL - invested, as_of=as_of, lots=lots
        )
        account = reported or account
    realized, sales = RealizedGain(), 0
    for index, (today, close) in enumerate(zip(dates, days, strict=True)):
        now = datetime(today.year, today.month, today.day, 21, tzinfo=UTC)
        prices = {s: Price(p, True, True, now) for s, p in close.items()}
        flow = DEPOSIT if index % DEPOSIT_EVERY == 0 else Decimal(0)
        if index == 0 and not seasoned:
            flow = INITIAL
        reason = TriggerReason.NIGHTLY
        if flow:
            account = account.deposit(flow, f"deposit-{index}") or account
            reason = TriggerReason.DEPOSIT
        elif index % WITHDRAWAL_EVERY == WITHDRAWAL_DAY:
            account = account.request_withdrawal(WITHDRAWAL)
            reason = TriggerReason.WITHDRAWAL
        account, optimization = evaluate_day(
            account, reason, MODEL, prices, index, now, today, calendar
        )
        if optimization is None:
            continue
        if optimization.status is not OptimizationStatus.READY:
            continue
        delta: dict[str, Decimal] = {}
        cash, fills = Decimal(0), []
        for order in optimization.orders:
            sign = 1 if order.side is Side.BUY else -1
            delta[order.symbol] = delta.get(order.symbol, Decimal(0)) + sign * order.qty
            cash -= sign * order.notional
            fills.append(Fill(order.symbol, order.side, order.qty, order.expected_price, today))
            if order.side is Side.SELL and order.gain is not None:
                realized, sales = realized.plus(order.gain), sales + 1
        full = optimization.run_type is RunType.FULL_REBALANCE
        run = RunResult(optimization.optimization_id, delta, cash, now, fills=tuple(fills))
        step = run_completed(account, run, completed_on=today if full else None, unblock=True)
        if step is not None:
            account = step.account
        if optimization.run_type is RunType.WITHDRAWAL:  # the money leaves the account
            paid = min(account.portfolio.pending_withdrawal, account.portfolio.cash)
            if paid > 0:
                account = account.with_portfolio(account.portfolio.withdraw_cash(paid))
    last = days[-1]
    book = account.portfolio.lots
    unrealized = sum(
        (lot.qty * (last[s] - lot.cost_per_share) for s, held in book.items() for lot in held),
        Decimal(0),
    )
    count = sum(len(held) for held in book.values())
    return LotLedger(realized, unrealized.quantize(Decimal("0.01")), count, sales)


def usd(amount: Decimal) -> str:
    return f"{amount:,.0f}"


def short_term_cut(fifo: Decimal, tax_min: Decimal) -> Decimal | None:
    """How much less short-term gain tax_min realized than fifo, as a share of fifo's (of its
    size when fifo realized a loss: a larger loss is less gain); None when fifo realized none."""
    if fifo == 0:
        return None
    return (fifo - tax_min) / abs(fifo)


def target_met(fifo: Decimal, tax_min: Decimal) -> bool:
    cut = short_term_cut(fifo, tax_min)
    return tax_min < 0 if cut is None else cut >= TARGET_CUT


def report(name: str, ledgers: dict[LotPolicy, LotLedger]) -> tuple[Table, Decimal | None]:
    table = Table(title=f"{name}: lot policies, production rules, same path")
    for col in ("lot policy", "sales", "short-term", "long-term", "total", "unrealized", "lots"):
        table.add_column(col, justify="right")
    for policy, ledger in ledgers.items():
        gain = ledger.realized
        table.add_row(
            str(policy),
            str(ledger.sales),
            usd(gain.short_term),
            usd(gain.long_term),
            usd(gain.total),
            usd(ledger.unrealized),
            str(ledger.lots),
        )
    fifo = ledgers[LotPolicy.FIFO].realized.short_term
    tax_min = ledgers[LotPolicy.TAX_MIN].realized.short_term
    ratio = tax_min / fifo if fifo > 0 else None
    return table, ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--seeds", default="7,11,23", help="one normal path per seed")
    args = parser.parse_args()
    console = Console(width=130)
    seeds = [int(s) for s in args.seeds.split(",")]
    scenarios = {f"normal-{seed}": closes(args.days, seed, crash=False) for seed in seeds}
    scenarios["crash"] = closes(args.days, seeds[0], crash=True)
    verdicts = []
    for name, days in scenarios.items():
        for seasoned in (False, True):
            label = f"{name}, {'seasoned' if seasoned else 'fresh'}"
            ledgers = {p: simulate_lots(p, days, seasoned) for p in LotPolicy}
            table, ratio = report(label, ledgers)
            console.print(table)
            fifo = ledgers[LotPolicy.FIFO].realized.short_term
            tax_min = ledgers[LotPolicy.TAX_MIN].realized.short_term
            shown = f"{float(ratio):.2f}" if ratio is not None else "- (fifo realized no gain)"
            console.print(
                f"tax_min / fifo short-term gain: {shown}; tax_min realized "
                f"{usd(fifo - tax_min)} USD less short-term gain"
            )
            if name == "crash":
                verdicts.append((label, fifo, tax_min))
    for label, fifo, tax_min in verdicts:
        cut = short_term_cut(fifo, tax_min)
        said = f"{float(cut) * 100:.0f} % less" if cut is not None else "fifo realized 0"
        console.print(
            f"target on {label}: tax_min >= 30 % less realized short-term gain than fifo: "
            f"{'MET' if target_met(fifo, tax_min) else 'NOT MET'} "
            f"(fifo {usd(fifo)}, tax_min {usd(tax_min)} USD: {said})"
        )


if __name__ == "__main__":
    main()
