"""What the backtest runs on: the `balanced` model of the demo (SPY 60 / TLT 35 / cash 5, bands
of 5 points and 20 %, cooldown 7 days) and its price paths: seeded, correlated geometric Brownian
paths (stock ~18 %, bond ~7 % a year, correlation -0.2), one of them with a 2020-style crash
(stocks -34 % over 23 days, then a recovery), and real closes from a CSV file when given."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path

from rebal_optimizer.backtest.prices_csv import read_closes
from rebal_optimizer.domain import (
    ConditionSubType,
    ConditionType,
    ModelPortfolio,
    RebalanceCondition,
    Weight,
    WeightType,
)

Closes = list[dict[str, Decimal]]  # one dict a trading day: symbol -> close

BAND = Decimal(5)  # the model's absolute drift band, points: the tightest of its bands here
MODEL = ModelPortfolio(
    model_id="balanced",
    name="Balanced",
    description="A balanced portfolio of stocks and bonds",
    weights=(
        Weight(WeightType.CASH, None, Decimal(5)),
        Weight(WeightType.ASSET, "SPY", Decimal(60)),
        Weight(WeightType.ASSET, "TLT", Decimal(35)),
    ),
    cooldown_days=7,
    rebalance_conditions=(
        RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.ABSOLUTE, BAND),
        RebalanceCondition(ConditionType.DRIFT_BAND, ConditionSubType.RELATIVE, Decimal(20)),
    ),
)
TARGETS = {"SPY": 0.60, "TLT": 0.35}  # the model's asset weights, for the statistics
START_PRICES = {"SPY": Decimal("500.00"), "TLT": Decimal("90.00")}  # the demo's first prices
VOLS = {"SPY": 0.18, "TLT": 0.07}
DRIFTS = {"SPY": 0.07, "TLT": 0.03}
CORRELATION = -0.2


def closes(days: int, seed: int, crash: bool) -> Closes:
    rng = random.Random(seed)
    level = {s: float(START_PRICES[s]) for s in TARGETS}
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


def scenarios(days: int, seeds: list[int], prices: Path | None = None) -> dict[str, Closes]:
    """A normal path per seed, the crash on the first seed's, then the file's first `days`
    closes (named after the file). Raises `PriceFileError` (or `OSError`) for a bad file."""
    out = {f"normal-{seed}": closes(days, seed, crash=False) for seed in seeds}
    out["crash"] = closes(days, seeds[0], crash=True)
    if prices is not None:
        out[prices.stem] = read_closes(prices, TARGETS)[:days]
    return out
