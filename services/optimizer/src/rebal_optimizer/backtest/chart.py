"""A chart per scenario: the largest drift after each day per policy, and the turnover bars.

matplotlib is the `backtest` extra's, not the optimizer's: the service image installs the
optimizer without it, so it is imported only here, when a chart is drawn."""

from __future__ import annotations

from pathlib import Path

from rebal_optimizer.backtest.engine import Ledger
from rebal_optimizer.backtest.paths import BAND

MISSING = "matplotlib is not installed (pip install 'rebal-optimizer[backtest]')"


class ChartSkipped(Exception):
    """No chart drawn; the message says why."""


def chart(name: str, ledgers: dict[str, Ledger], out: Path) -> Path:
    """The scenario's chart as `out/policies-<name>.png`; ChartSkipped without matplotlib."""
    try:
        import matplotlib
    except ModuleNotFoundError:
        raise ChartSkipped(MISSING) from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (drift_axis, bar_axis) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]}
    )
    for policy, ledger in ledgers.items():
        drift_axis.plot(ledger.drift, label=policy, linewidth=1)
    drift_axis.axhline(
        float(BAND), color="grey", linestyle="--", linewidth=0.8, label=f"{BAND}-point band"
    )
    drift_axis.set(title=f"{name}: largest drift after the day", xlabel="trading day")
    drift_axis.set_ylabel("percentage points")
    drift_axis.legend()
    bar_axis.bar(list(ledgers), [float(x.turnover) / 1000 for x in ledgers.values()])
    bar_axis.set(title="turnover (thousand USD)")
    bar_axis.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"policies-{name}.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
