"""The backtest's tables and summary lines (rich): the policies side by side per scenario, with
their ratios to Alpaca-style over every scenario, and the lot policies' realized gains."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal

from rich.table import Table

from rebal_optimizer.backtest.engine import Ledger
from rebal_optimizer.backtest.lot_policies import short_term_cut, target_met
from rebal_optimizer.backtest.paths import BAND, TARGETS, Closes
from rebal_optimizer.backtest.policies import BASE
from rebal_optimizer.domain.tax_policy import LotPolicy

POLICY_COLUMNS = (
    "policy", "turnover %", "x alpaca", "orders", "rebalances", "mean drift", "max drift",
    "tracking err %", "cost $", "x alpaca", "carried / lost $", "short-term $", "long-term $",
)  # fmt: skip
LOT_COLUMNS = ("lot policy", "sales", "short-term", "long-term", "total", "unrealized", "lots")


def usd(amount: Decimal) -> str:
    return f"{amount:,.0f}"


def tracking_error(ledger: Ledger, days: Closes) -> float:
    """Annualised standard deviation (percent) of the daily return gap to the target portfolio
    held at its weights every day."""
    gaps = []
    for i in range(1, len(days)):
        mine = float((ledger.values[i] - ledger.flows[i]) / ledger.values[i - 1]) - 1
        ideal = sum(w * (float(days[i][s] / days[i - 1][s]) - 1) for s, w in TARGETS.items())
        gaps.append(mine - ideal)
    mean = sum(gaps) / len(gaps)
    return math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps) * 252) * 100


def policy_table(name: str, ledgers: dict[str, Ledger], days: Closes) -> Table:
    """One scenario's policies: what they traded and cost, how far they drifted, and the gains
    their sales realized (short- and long-term, USD)."""
    table = Table(title=f"{name}: {len(days)} trading days, balanced model, production rules")
    for col in POLICY_COLUMNS:
        table.add_column(col, justify="right")
    base, base_cost = ledgers[BASE].turnover, ledgers[BASE].cost
    for policy, ledger in ledgers.items():
        gated = f" ({ledger.gated} gated)" if ledger.gated else ""
        mean_value = sum(ledger.values, Decimal(0)) / len(ledger.values)
        table.add_row(
            policy,
            f"{float(ledger.turnover / mean_value) * 100:.1f}",
            f"{float(ledger.turnover / base):.2f}" if base else "-",
            str(ledger.orders),
            f"{ledger.rebalances}{gated}",
            f"{sum(ledger.drift[1:]) / (len(ledger.drift) - 1):.2f}",
            f"{max(ledger.drift[1:]):.2f}",
            f"{tracking_error(ledger, days):.2f}",
            f"{ledger.cost:.2f}",
            f"{float(ledger.cost / base_cost):.2f}" if base_cost else "-",
            f"{ledger.skipped - ledger.lost:.2f} / {ledger.lost:.2f}",
            usd(ledger.realized.short_term),
            usd(ledger.realized.long_term),
        )
    return table


def policy_summary(scenarios: list[dict[str, Ledger]]) -> list[str]:
    """Turnover and cost over every scenario against BASE, the largest drift of each policy
    against the band, and the skipped notional lost."""
    lines = []
    for label, figure, target in (
        ("turnover", lambda ledger: ledger.turnover, " (target <= 0.70)"),
        ("cost", lambda ledger: ledger.cost, ""),
    ):
        totals = _totals(scenarios, figure)
        ratios = ", ".join(
            f"{policy} x{float(total / totals[BASE]):.2f}" for policy, total in totals.items()
        )
        lines.append(f"{label} over every scenario, against {BASE}: {ratios}{target}")
    worst = {
        policy: max(max(ledgers[policy].drift[1:]) for ledgers in scenarios)
        for policy in scenarios[0]
    }
    inside = "met" if worst["band-edge"] <= BAND else "NOT met"
    lines.append(
        f"largest drift over every scenario, points (the model's band: {BAND}): "
        + ", ".join(f"{policy} {drift:.2f}" for policy, drift in worst.items())
        + f"; band-edge inside the band (target): {inside}"
    )
    lost = _totals(scenarios, lambda ledger: ledger.lost)
    lines.append(
        "skipped notional lost (below the minimum, neither traded nor carried) over every "
        "scenario: " + ", ".join(f"{policy} {amount:.2f} USD" for policy, amount in lost.items())
    )
    return lines


def _totals(
    scenarios: list[dict[str, Ledger]], figure: Callable[[Ledger], Decimal]
) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for ledgers in scenarios:
        for policy, ledger in ledgers.items():
            totals[policy] = totals.get(policy, Decimal(0)) + figure(ledger)
    return totals


def lot_table(name: str, ledgers: dict[LotPolicy, Ledger]) -> Table:
    table = Table(title=f"{name}: lot policies, production rules, same path")
    for col in LOT_COLUMNS:
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
            str(ledger.open_lots),
        )
    return table


def lot_ratio_line(ledgers: dict[LotPolicy, Ledger]) -> str:
    fifo = ledgers[LotPolicy.FIFO].realized.short_term
    tax_min = ledgers[LotPolicy.TAX_MIN].realized.short_term
    shown = f"{float(tax_min / fifo):.2f}" if fifo > 0 else "- (fifo realized no gain)"
    return (
        f"tax_min / fifo short-term gain: {shown}; tax_min realized "
        f"{usd(fifo - tax_min)} USD less short-term gain"
    )


def lot_verdict(label: str, ledgers: dict[LotPolicy, Ledger]) -> str:
    fifo = ledgers[LotPolicy.FIFO].realized.short_term
    tax_min = ledgers[LotPolicy.TAX_MIN].realized.short_term
    cut = short_term_cut(fifo, tax_min)
    said = f"{float(cut) * 100:.0f} % less" if cut is not None else "fifo realized 0"
    return (
        f"target on {label}: tax_min >= 30 % less realized short-term gain than fifo: "
        f"{'MET' if target_met(fifo, tax_min) else 'NOT MET'} "
        f"(fifo {usd(fifo)}, tax_min {usd(tax_min)} USD: {said})"
    )
