"""Rebalancing policies side by side over a year of daily closes, on the optimizer's production
rules (`bench/policy_engine.py`: the same evaluation, bands, cooldown and invest-cash threshold the handlers
run): Alpaca-style (a breach rebalances to target) against band-edge (`rebalance_to: band_edge`:
the same breach trades only what breached, to just inside its band, orders below the minimum
carried forward), band-edge with the cost gate (`cost_gate_threshold`), and cash-flow-only
(deposits buy what is under target, never a drift rebalance), same paths, same run. Every policy
pays the same costs (1 USD per order, half a spread of 1 bp SPY / 2 bp TLT).

The portfolio follows the demo's `balanced` model (SPY 60 / TLT 35 / cash 5, bands 5 points and
20 %, cooldown 7 days), starts with 100,000 and gets 1,000 every 21 trading days. Prices: seeded,
correlated geometric Brownian paths (stock ~18 %, bond ~7 % a year, correlation -0.2), one of
them with a 2020-style crash (stocks -34 % over 23 days, then a recovery). Prints a table per
scenario (turnover, orders, rebalances, mean and max drift, tracking error, cost, notional
below the minimum carried / lost) and the ratios to Alpaca-style; writes a chart per scenario
(drift over time per policy, turnover bars) to `bench-output/`. `--prices FILE` adds a scenario
of real daily closes (CSV `date,symbol,close` with SPY and TLT, bench/prices_csv.py).

    .venv/bin/python bench/policies/run.py [--days 252] [--seeds 7,11,23] [--prices FILE]
        [--initial 100000] [--deposit 1000]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policy_engine import Ledger, simulate
from prices_csv import PriceFileError, read_closes
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
COST_GATE_THRESHOLD = Decimal("0.01")  # trading may cost at most 1 % of the USD put back
INITIAL, DEPOSIT, DEPOSIT_EVERY = Decimal(100_000), Decimal(1000), 21
BASE = "alpaca (to target)"
# Every policy pays the same costs (the cost column); only the cost-gate policy acts on them.
COSTS = PortfolioSettings(
    model_id="balanced",
    commission_per_order=Decimal(1),
    spread_bps=Decimal(5),
    spread_bps_by_symbol=(("SPY", Decimal(1)), ("TLT", Decimal(2))),
)
CARRY = replace(COSTS, carry_forward_skipped=True)
EDGE = replace(CARRY, rebalance_to=RebalanceTo.BAND_EDGE)
POLICIES = {
    BASE: COSTS,
    "band-edge": EDGE,
    "band-edge, 50 % margin": replace(EDGE, band_edge_margin_percent=Decimal(50)),
    "band-edge + cost gate": replace(EDGE, cost_gate_threshold=COST_GATE_THRESHOLD),
    # Betterment-style: deposits buy what is under target; no drift or calendar rebalance ever
    # (own weights without conditions), beyond the first funding
    "cash-flow-only": replace(CARRY, model_id=None, own_weights=MODEL.weights),
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
        "tracking err %", "cost $", "x alpaca", "carried / lost $",
    ):  # fmt: skip
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
    parser.add_argument("--initial", type=Decimal, default=INITIAL, help="first funding, USD")
    parser.add_argument("--deposit", type=Decimal, default=DEPOSIT, help="every 21 days, USD")
    parser.add_argument(
        "--prices", type=Path, help="CSV date,symbol,close with SPY and TLT: an extra scenario"
    )
    args = parser.parse_args()
    console = Console(width=190)
    seeds = [int(s) for s in args.seeds.split(",")]
    scenarios = {f"normal-{seed}": closes(args.days, seed, crash=False) for seed in seeds}
    scenarios["crash"] = closes(args.days, seeds[0], crash=True)
    if args.prices is not None:
        try:
            scenarios[args.prices.stem] = read_closes(args.prices, TARGETS)[: args.days]
        except (OSError, PriceFileError) as error:
            sys.exit(f"--prices: {error}")
    totals: dict[str, Decimal] = dict.fromkeys(POLICIES, Decimal(0))
    costs: dict[str, Decimal] = dict.fromkeys(POLICIES, Decimal(0))
    lost: dict[str, Decimal] = dict.fromkeys(POLICIES, Decimal(0))
    for name, days in scenarios.items():
        ledgers = {
            policy: simulate(
                settings,
                MODEL,
                days,
                initial=args.initial,
                deposit=args.deposit,
                deposit_every=DEPOSIT_EVERY,
            )
            for policy, settings in POLICIES.items()
        }
        console.print(report(name, ledgers, days))
        console.print(f"chart: {chart(name, ledgers, args.out)}")
        for policy, ledger in ledgers.items():
            totals[policy] += ledger.turnover
            costs[policy] += ledger.cost
            lost[policy] += ledger.lost
    for label, figures, target in (
        ("turnover", totals, " (target <= 0.70)"),
        ("cost", costs, ""),
    ):
        ratios = ", ".join(
            f"{policy} x{float(total / figures[BASE]):.2f}" for policy, total in figures.items()
        )
        console.print(f"{label} over every scenario, against {BASE}: {ratios}{target}")
    console.print(
        "skipped notional lost (below the minimum, neither traded nor carried) over every "
        "scenario: " + ", ".join(f"{policy} {amount:.2f} USD" for policy, amount in lost.items())
    )


if __name__ == "__main__":
    main()
