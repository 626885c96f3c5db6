"""Lot policies side by side (`lot_policy`: fifo / hifo / tax_min) on the same path, same
Alpaca-style rebalancing to target; only the lot policy differs.

Two starts per scenario: `fresh` (100,000 cash on day 0: every lot is bought inside the year, so
every gain is short-term) and `seasoned` (the same 100,000 already held at target, in eight
quarterly lots bought over the two years before, at costs 30 % below to 10 % above today's
price: the long-term lots a portfolio moving in brings along). Both get 1,000 every 5 trading
days, so the deposits' buys open many lots, and pay out 4,000 every 21 (a withdrawal run: the
sales where the lot policy matters most, besides the rebalances).

The target: tax_min realizes at least 30 % less short-term gain than fifo on the crash scenario.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.backtest.engine import Ledger, Schedule, fresh_account, simulate, trading_dates
from rebal_optimizer.backtest.paths import MODEL, TARGETS, Closes
from rebal_optimizer.domain import PortfolioSettings
from rebal_optimizer.domain.account import PortfolioAccount
from rebal_optimizer.domain.lots import Lot, total_qty
from rebal_optimizer.domain.tax_policy import LotPolicy

INITIAL, DEPOSIT, DEPOSIT_EVERY = Decimal(100_000), Decimal(1000), 5
WITHDRAWAL, WITHDRAWAL_EVERY, WITHDRAWAL_DAY = Decimal(4000), 21, 12  # a monthly payout
HISTORY_LOTS = 8  # quarterly lots over the two years before the start
TARGET_CUT = Decimal("0.30")  # tax_min must realize at least 30 % less short-term gain than fifo


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


def _seasoned_account(settings: PortfolioSettings, close: dict[str, Decimal]) -> PortfolioAccount:
    """INITIAL already invested at target in `seasoned_lots`, the rest in cash, as a holdings
    snapshot with lots reported the morning of the first day."""
    start = trading_dates(1)[0]
    lots = seasoned_lots(close, start)
    holdings = {symbol: total_qty(held) for symbol, held in lots.items()}
    invested = sum((q * close[s] for s, q in holdings.items()), Decimal(0))
    as_of = datetime(start.year, start.month, start.day, 14, tzinfo=UTC)
    account = fresh_account(settings, "lots")
    reported, _ = account.report_holdings(
        holdings, snapshot=True, cash=INITIAL - invested, as_of=as_of, lots=lots
    )
    return reported or account


def run_lot_policies(days: Closes, seasoned: bool) -> dict[LotPolicy, Ledger]:
    """Every lot policy through the same closes and flows; a seasoned book gets the regular
    deposit on day 0, a fresh one INITIAL."""
    schedule = Schedule(
        DEPOSIT if seasoned else INITIAL,
        DEPOSIT,
        DEPOSIT_EVERY,
        WITHDRAWAL,
        WITHDRAWAL_EVERY,
        WITHDRAWAL_DAY,
    )
    ledgers = {}
    for policy in LotPolicy:
        settings = PortfolioSettings(model_id=MODEL.model_id, lot_policy=policy)
        start = (
            _seasoned_account(settings, days[0]) if seasoned else fresh_account(settings, "lots")
        )
        ledgers[policy] = simulate(start, MODEL, days, schedule)
    return ledgers


def short_term_cut(fifo: Decimal, tax_min: Decimal) -> Decimal | None:
    """How much less short-term gain tax_min realized than fifo, as a share of fifo's (of its
    size when fifo realized a loss: a larger loss is less gain); None when fifo realized none."""
    if fifo == 0:
        return None
    return (fifo - tax_min) / abs(fifo)


def target_met(fifo: Decimal, tax_min: Decimal) -> bool:
    cut = short_term_cut(fifo, tax_min)
    return tax_min < 0 if cut is None else cut >= TARGET_CUT
