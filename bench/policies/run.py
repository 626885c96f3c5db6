"""Rebalancing policies side by side over a year of daily closes, on the optimizer's production
rules (`bench/policy_engine.py`: the same evaluation, bands, cooldown and invest-cash threshold the handlers
run): Alpaca-style (a breach rebalances to target) against band-edge (`rebalance_to: band_edge`:
the same breach trades only what breached, to just inside its band), same paths, same run.

The portfolio follows the demo's `balanced` model (SPY 60 / TLT 35 / cash 5, bands 5 points and
20 %, cooldown 7 days), starts with 100,000 and gets 1,000 every 21 trading days. Prices: seeded,
correlated geometric Brownian paths (stock ~18 %, bond ~7 % a year, correlation -0.2), one of
them with a 2020-style crash (stocks -34 % over 23 days, then a recovery). Prints a table per
scenario (turnover, orders, rebalances, mean and max drift, tracking error) and the ratios to
Alpaca-style; writes a chart per scenario (drift over time per policy, turnover bars) to
`bench-output/`.

    .venv/bin/python bench/policies/run.py [--days 252] [--seeds 7,11,23]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_engine import Ledger, simulate
from rebal_demo.scenario import INITIAL_PRICES, MODELS_BY_ID
from rich.console import Console
from rich.table import Table

from rebal_optimizer.domain import PortfolioSettings, RebalanceTo
from rebal_optimizer.service_layer.inputs import model as model_of

MODEL = model_of(MODELS_BY_ID["balanced"])
TARGETS = {"SPY": 0.60, "TLT": 0.35}
VOLS = {"SPY": 0.18, "TLT": 0.07}
DRIFTS = {"SPY": 0.07, "TLT": 0.03}
CORRELATION = -0.2
INITIAL, DEPOSIT, DEPOSIT_EVERY = Decimal(100_000), Decimal(1000), 21
BASE = "alpaca (to target)"
POLICIES = {
    BASE: PortfolioSettings(model_id="balanced"),
    "band-edge": PortfolioSettings(model_id="balanced", rebalance_to=RebalanceTo.BAND_EDGE),
    "band-edge, 50 % margin": PortfolioSettings(
        model_id="balanced",
        rebalance_to=RebalanceTo.BAND_EDGE,
        band_edge_margin_percent=Decimal(50),
    ),
}


def closes(days: int, seed: int, crash: bool) -> list[dict[str, Decimal]]:
    rng = random.Random(seed)
    level = {s: float(INITIAL_PRICES[s]) for s in TARGETS}
    out = []
    dt = 1 / 252
    for day in range(days):
        z1, z2 = rng.gauss(0, 1), rng.gauss(0, 1)
        shocks = {"SPY": z1, "TLT": CORRELATION * z1 + math.sqrt(1 - CORRELATION**2) * z2}
        for symbol in level:
            mu, vol = DRIFTS[symbol], VOLS[symbol]
            move = (mu - vol**2 / 2) * dt + vol * math.sqrt(dt) * shocks[symbol]
            if crash and symbol == "SPY" and 40 <= day < 63:
                move += math.log(0.66) / 23  # -34 % over 23 trading days
            if crash and symbol == "SPY" and 63 <= day < 143:
                move += math.log(1.40) / 80  # the recovery
            level[symbol] *= math.exp(move)
        # prices are generated as floats, then every amount from here on is Decimal
        out.append({s: Decimal(f"{v:.2f}") for s, v in level.items()})
    return out


def tracking_error(ledger: Ledger, days: list[dict[str, Decimal]]) -> float:
    """Annualised standard deviation (percent) of the daily return gap to the target portfolio
    held at its weights every day."""
    gaps = []
    for i in range(1, len(days)):
        mine = float((ledger.values[i] - ledger.flows[i]) / ledger.values[i - 1]) - 1
        ideal = sum(w * (float(days[i][s] / days[i - 1][s]) - 1) for s, w in TARGETS.items())
        gaps.append(mine - ideal)
    mean = sum(gaps) / len(gaps)
    return math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps) * 252) * 100


def report(name: str, ledgers: dict[str, Ledger], days: list[dict[str, Decimal]]) -> Table:
    table = Table(title=f"{name}: {len(days)} trading days, balanced model, production rules")
    for col in (
        "policy", "turnover %", "x alpaca", "orders", "rebalances", "mean drift", "max drift",
        "tracking err %",
    ):  # fmt: skip
        table.add_column(col, justify="right")
    base = ledgers[BASE].turnover
    for policy, ledger in ledgers.items():
        mean_value = sum(ledger.values, Decimal(0)) / len(ledger.values)
        table.add_row(
            policy,
            f"{float(ledger.turnover / mean_value) * 100:.1f}",
            f"{float(ledger.turnover / base):.2f}" if base else "-",
            str(ledger.orders),
            str(ledger.rebalances),
            f"{sum(ledger.drift[1:]) / (len(ledger.drift) - 1):.2f}",
            f"{max(ledger.drift[1:]):.2f}",
            f"{tracking_error(ledger, days):.2f}",
        )
    return table


def chart(name: str, ledgers: dict[str, Ledger], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (drift_axis, bar_axis) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]}
    )
    for policy, ledger in ledgers.items():
        drift_axis.plot(ledger.drift, label=policy, linewidth=1)
    drift_axis.axhline(5, color="grey", linestyle="--", linewidth=0.8, label="5-point band")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=252)
    parser.add_argument("--seeds", default="7,11,23", help="one normal path per seed")
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    args = parser.parse_args()
    console = Console(width=130)
    seeds = [int(s) for s in args.seeds.split(",")]
    scenarios = {f"normal-{seed}": closes(args.days, seed, crash=False) for seed in seeds}
    scenarios["crash"] = closes(args.days, seeds[0], crash=True)
    totals: dict[str, Decimal] = dict.fromkeys(POLICIES, Decimal(0))
    for name, days in scenarios.items():
        ledgers = {
            policy: simulate(
                settings, MODEL, days, initial=INITIAL, deposit=DEPOSIT, deposit_every=DEPOSIT_EVERY
            )
            for policy, settings in POLICIES.items()
        }
        console.print(report(name, ledgers, days))
        console.print(f"chart: {chart(name, ledgers, args.out)}")
        for policy, ledger in ledgers.items():
            totals[policy] += ledger.turnover
    ratios = ", ".join(
        f"{policy} x{float(total / totals[BASE]):.2f}" for policy, total in totals.items()
    )
    console.print(f"turnover over every scenario, against {BASE}: {ratios} (target <= 0.70)")


if __name__ == "__main__":
    main()
