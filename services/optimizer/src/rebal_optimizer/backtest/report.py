"""The backtest printed: per scenario its table (and the policies' chart), then the lines over
every scenario. The widths are the ones the bench's figures were always printed at."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich.console import Console

from rebal_optimizer.backtest.chart import ChartSkipped, chart
from rebal_optimizer.backtest.engine import Ledger
from rebal_optimizer.backtest.lot_policies import run_lot_policies
from rebal_optimizer.backtest.paths import Closes
from rebal_optimizer.backtest.policies import run_policies
from rebal_optimizer.backtest.tables import (
    lot_ratio_line,
    lot_table,
    lot_verdict,
    policy_summary,
    policy_table,
)


def print_policies(
    scenarios: dict[str, Closes], initial: Decimal, deposit: Decimal, out: Path
) -> None:
    console = Console(width=190)
    every: list[dict[str, Ledger]] = []
    for name, days in scenarios.items():
        ledgers = run_policies(days, initial, deposit)
        console.print(policy_table(name, ledgers, days))
        try:
            said = f"chart: {chart(name, ledgers, out)}"
        except ChartSkipped as skipped:
            said = f"chart: skipped, {skipped}"
        console.print(said, markup=False)  # a path or `rebal-optimizer[backtest]`, as written
        every.append(ledgers)
    for line in policy_summary(every):
        console.print(line)


def print_lot_policies(scenarios: dict[str, Closes]) -> None:
    """A fresh and a seasoned start per scenario; the target's verdict on the crash's last."""
    console = Console(width=130)
    verdicts = []
    for name, days in scenarios.items():
        for seasoned in (False, True):
            label = f"{name}, {'seasoned' if seasoned else 'fresh'}"
            ledgers = run_lot_policies(days, seasoned)
            console.print(lot_table(label, ledgers))
            console.print(lot_ratio_line(ledgers))
            if name == "crash":
                verdicts.append(lot_verdict(label, ledgers))
    for verdict in verdicts:
        console.print(verdict)
