"""Rebalancing policies side by side over a year of daily prices, through the optimizer's own
pure order generation (`generate_orders`) and drift measure (`compute_drifts`): Alpaca-style
(a drift band breach rebalances to target) against band-edge (the same breach trades only what
breached, to just inside its band), same paths, same run.

Each trading day: prices move; a deposit (monthly) is invested when uninvested cash exceeds the
invest-cash threshold (invest_cash); else a breach of any drift band outside the cooldown starts
a full rebalance. Orders fill at the day's close. Prices: seeded, correlated geometric Brownian
paths (stock ~18 %, bond ~7 % a year), and a 2020-style crash (stocks -34 % over 23 days, then a
recovery). Prints per scenario: turnover, orders, mean and max drift, tracking error; writes a
chart of drift over time per policy and turnover bars to `bench-output/`.

    .venv/bin/python bench/policies/run.py [--days 252] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from rebal_optimizer.domain import (
    ConditionSubType,
    ConditionType,
    Drift,
    PortfolioSettings,
    Price,
    RebalanceCondition,
    RebalanceTo,
    RunType,
    Side,
    TargetWeights,
    compute_drifts,
    generate_orders,
    is_band_breached,
)

START = datetime(2026, 1, 2, 21, tzinfo=UTC)
TARGETS = TargetWeights({"SPY": Decimal(60), "TLT": Decimal(35)}, Decimal(5))
BANDS = (
    RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.ABSOLUTE, Decimal(5)),
    RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.RELATIVE, Decimal(20)),
)
COOLDOWN_DAYS = 7
DEPOSIT = Decimal(1000)  # monthly
INVEST_THRESHOLD = Decimal(10)
INITIAL = {"SPY": 500.0, "TLT": 90.0}
VOLS = {"SPY": 0.18, "TLT": 0.07}
DRIFTS = {"SPY": 0.07, "TLT": 0.03}
CORRELATION = -0.2
POLICIES = {
    "alpaca (to target)": PortfolioSettings(),
    "band-edge": PortfolioSettings(rebalance_to=RebalanceTo.BAND_EDGE),
    "band-edge, 50 % margin": PortfolioSettings(
        rebalance_to=RebalanceTo.BAND_EDGE, band_edge_margin_percent=Decimal(50)
    ),
}


def paths(days: int, seed: int, crash: bool) -> list[dict[str, Decimal]]:
    rng = random.Random(seed)
    level = dict(INITIAL)
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
        out.append({s: Decimal(str(round(v, 2))) for s, v in level.items()})
    return out


@dataclass
class Book:
    holdings: dict[str, Decimal] = field(default_factory=dict)
    cash: Decimal = Decimal(100_000)
    turnover: Decimal = Decimal(0)
    orders: int = 0
    last_rebalance: int = -COOLDOWN_DAYS
    drift: list[float] = field(default_factory=list)
    values: list[Decimal] = field(default_factory=list)


def simulate(settings: PortfolioSettings, days: list[dict[str, Decimal]]) -> Book:
    book = Book()
    for day, close in enumerate(days):
        now = START + timedelta(days=day)
        prices = {s: Price(p, True, True, now) for s, p in close.items()}
        if day and day % 21 == 0:
            book.cash += DEPOSIT
        drifts = compute_drifts(book.holdings, book.cash, prices, TARGETS)
        total = book.cash + sum((q * close[s] for s, q in book.holdings.items()), Decimal(0))
        run = _run_today(book, drifts, day, total)
        if run is not None:
            plan = generate_orders(
                run, book.holdings, book.cash, TARGETS, prices, settings, now,
                timedelta(days=1), bands=BANDS,
            )  # fmt: skip
            for order in plan.orders:
                sign = 1 if order.side is Side.BUY else -1
                book.holdings[order.symbol] = book.holdings.get(order.symbol, Decimal(0)) + (
                    sign * order.qty
                )
                book.cash -= sign * order.notional
                if day:  # the first funding is the same for every policy: not turnover
                    book.turnover += order.notional
                    book.orders += 1
            if run is RunType.FULL_REBALANCE:
                book.last_rebalance = day
        after = compute_drifts(book.holdings, book.cash, prices, TARGETS)
        book.drift.append(max((float(d.absolute) for d in after), default=0.0))
        value = book.cash + sum((q * close[s] for s, q in book.holdings.items()), Decimal(0))
        book.values.append(value)
    return book


def _run_today(book: Book, drifts: tuple[Drift, ...], day: int, total: Decimal) -> RunType | None:
    """The production's order of triggers: a first funding, cash to invest, a band breach."""
    if not book.holdings:
        return RunType.FULL_REBALANCE
    cash = next(d for d in drifts if d.symbol is None)
    if (cash.current - cash.target) * total / 100 > INVEST_THRESHOLD and day % 21 == 0:
        return RunType.INVEST_CASH
    breached = any(
        is_band_breached(drifts, band.sub_type, band.percent or Decimal(0)) for band in BANDS
    )
    if breached and day - book.last_rebalance >= COOLDOWN_DAYS:
        return RunType.FULL_REBALANCE
    return None


def tracking_error(book: Book, days: list[dict[str, Decimal]]) -> float:
    """Annualised standard deviation of the daily return gap to the target portfolio held at
    its weights every day."""
    gaps = []
    for i in range(1, len(days)):
        flows = DEPOSIT if i % 21 == 0 else Decimal(0)
        mine = float((book.values[i] - flows) / book.values[i - 1]) - 1
        ideal = sum(
            float(TARGETS.assets[s] / 100) * (float(days[i][s] / days[i - 1][s]) - 1)
            for s in TARGETS.assets
        )
        gaps.append(mine - ideal)
    mean = sum(gaps) / len(gaps)
    return math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)) * math.sqrt(252) * 100


def report(
    name: str, books: dict[str, Book], days: list[dict[str, Decimal]], console: Console
) -> None:
    table = Table(title=f"{name}: {len(days)} trading days, bands 5 pts / 20 %, cooldown 7 days")
    for col in ("policy", "turnover %", "orders", "mean drift", "max drift", "tracking err %"):
        table.add_column(col, justify="right")
    for policy, book in books.items():
        mean_value = sum(book.values, Decimal(0)) / len(book.values)
        table.add_row(
            policy,
            f"{float(book.turnover / mean_value) * 100:.1f}",
            str(book.orders),
            f"{sum(book.drift[1:]) / (len(book.drift) - 1):.2f}",
            f"{max(book.drift[1:]):.2f}",
            f"{tracking_error(book, days):.2f}",
        )
    console.print(table)
    base, edge = books["alpaca (to target)"], books["band-edge"]
    console.print(
        f"band-edge / alpaca: turnover x{float(edge.turnover / base.turnover):.2f} "
        f"(target <= 0.70), max drift {max(edge.drift[1:]):.2f} vs {max(base.drift[1:]):.2f} pts"
    )


def chart(name: str, books: dict[str, Book], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (drift_axis, bar_axis) = plt.subplots(
        1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]}
    )
    for policy, book in books.items():
        drift_axis.plot(book.drift, label=policy, linewidth=1)
    drift_axis.axhline(5, color="grey", linestyle="--", linewidth=0.8, label="5-point band")
    drift_axis.set(title=f"{name}: largest drift after the day's trades", xlabel="trading day")
    drift_axis.set_ylabel("percentage points")
    drift_axis.legend()
    names = list(books)
    bar_axis.bar(names, [float(b.turnover) / 1000 for b in books.values()])
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
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-output"))
    args = parser.parse_args()
    console = Console(width=120)
    scenarios: dict[str, Callable[[], list[dict[str, Decimal]]]] = {
        "normal": lambda: paths(args.days, args.seed, crash=False),
        "crash": lambda: paths(args.days, args.seed, crash=True),
    }
    for name, make in scenarios.items():
        days = make()
        books = {policy: simulate(settings, days) for policy, settings in POLICIES.items()}
        report(name, books, days, console)
        console.print(f"chart: {chart(name, books, args.out)}")


if __name__ == "__main__":
    main()
