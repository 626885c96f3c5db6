"""What the demo does: models, prices, and N portfolios spread over the eight process flows.

One trading day, run at any hour: the demo's configuration opens the trading window (every day is a
trading day) and settles T+0. Three cohorts show the three ways a rebalance starts on a given day:

- `new`      : a new account, first funding -> full_rebalance (Alpaca: the first cash triggers one);
- `investor` : an invested account that receives a deposit -> invest_cash (buy only);
- `drifter`  : an invested account whose prices move past its drift bands -> drift full_rebalance.

Some `new` and `investor` portfolios then ask for a withdrawal -> a withdrawal run.
Advisory owners ACCEPT most optimizations, REJECT some, and REOPTIMIZE some (then accept the new one).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from decimal import Decimal

from rebal_schemas import (
    BrokerIntegration,
    Mandate,
    ModelUpdated,
    OptimizerMode,
    OwnerChoice,
    RebalanceCondition,
    Weight,
)

D = Decimal
INITIAL_PRICES: dict[str, Decimal] = {
    "SPY": D("500.00"),
    "TLT": D("90.00"),
    "VTI": D("250.00"),
    "QQQ": D("430.00"),
    "BND": D("72.00"),
    "GLD": D("190.00"),
}
# Where prices end after the market move: enough to push drifters past their bands.
MOVED_PRICES: dict[str, Decimal] = {
    "SPY": D("585.00"),
    "TLT": D("76.50"),
    "VTI": D("292.50"),
    "QQQ": D("625.00"),
    "BND": D("68.40"),
    "GLD": D("150.00"),
}


def _w(symbol: str | None, percent: str) -> Weight:
    if symbol is None:
        return Weight(type="cash", percent=D(percent))
    return Weight(type="asset", symbol=symbol, percent=D(percent))


def _band(sub_type: str, percent: str) -> RebalanceCondition:
    return RebalanceCondition(type="drift_band", sub_type=sub_type, percent=D(percent))


MODELS: tuple[ModelUpdated, ...] = (
    ModelUpdated(
        model_id="balanced",
        name="Balanced",
        description="A balanced portfolio of stocks and bonds",
        weights=(_w(None, "5"), _w("SPY", "60"), _w("TLT", "35")),
        cooldown_days=7,
        rebalance_conditions=(_band("absolute", "5"), _band("relative", "20")),
        producer="demo",
    ),
    ModelUpdated(
        model_id="growth",
        name="Growth",
        description="Equity heavy",
        weights=(_w(None, "2"), _w("VTI", "58"), _w("QQQ", "30"), _w("GLD", "10")),
        cooldown_days=7,
        rebalance_conditions=(_band("absolute", "4"),),
        producer="demo",
    ),
    ModelUpdated(
        model_id="income",
        name="Income",
        description="Bonds first",
        weights=(_w(None, "5"), _w("BND", "55"), _w("TLT", "25"), _w("SPY", "15")),
        cooldown_days=31,
        rebalance_conditions=(_band("relative", "20"),),
        producer="demo",
    ),
)
MODELS_BY_ID = {m.model_id: m for m in MODELS}

FLOWS: tuple[tuple[BrokerIntegration, Mandate, OptimizerMode], ...] = tuple(
    itertools.product(
        (BrokerIntegration.PLATFORM, BrokerIntegration.CLIENT),
        (Mandate.DISCRETIONARY, Mandate.ADVISORY),
        (OptimizerMode.PLATFORM, OptimizerMode.EXTERNAL),
    )
)


def flow_name(flow: tuple[BrokerIntegration, Mandate, OptimizerMode]) -> str:
    broker, mandate, optimizer = flow
    return f"{broker.value[:4]}/{mandate.value[:4]}/{optimizer.value[:4]}"


@dataclass(frozen=True)
class PortfolioPlan:
    portfolio_id: str
    flow: tuple[BrokerIntegration, Mandate, OptimizerMode]
    model_id: str
    cohort: str  # new | investor | drifter
    start_value: Decimal
    deposit: Decimal
    withdraw: Decimal | None
    owner_choices: tuple[OwnerChoice, ...]  # advisory answers, in order
    fractional: bool

    @property
    def broker(self) -> BrokerIntegration:
        return self.flow[0]

    @property
    def mandate(self) -> Mandate:
        return self.flow[1]

    @property
    def optimizer(self) -> OptimizerMode:
        return self.flow[2]


def plan_portfolios(n: int, seed: int = 7) -> list[PortfolioPlan]:
    rng = random.Random(seed)
    plans = []
    for i in range(n):
        flow = FLOWS[i % len(FLOWS)]
        cohort = ("new", "investor", "drifter")[(i // len(FLOWS)) % 3]
        roll = rng.random()
        choices: tuple[OwnerChoice, ...] = (OwnerChoice.ACCEPT,)
        if roll < 0.12:
            choices = (OwnerChoice.REJECT,)
        elif roll < 0.25:
            choices = (OwnerChoice.REOPTIMIZE, OwnerChoice.ACCEPT)
        withdraw = None
        start_value = D(rng.randrange(20_000, 250_000))
        deposit = D(rng.randrange(5_000, 50_000))
        if cohort == "investor":
            # Small next to the holdings, so that no drift band breaks: Alpaca then runs
            # invest_cash (buy only) rather than a full rebalance, which is checked first.
            deposit = (start_value * D(rng.randrange(3, 8)) / 1000).quantize(D("0.01"))
        if cohort != "drifter" and rng.random() < 0.25:
            # Large enough that the cash at hand does not cover it: assets must be sold.
            funded = deposit if cohort == "new" else start_value + deposit
            withdraw = (funded * D(rng.randrange(15, 40)) / 100).quantize(D("0.01"))
        plans.append(
            PortfolioPlan(
                portfolio_id=f"pf-{i:05d}",
                flow=flow,
                model_id=MODELS[(i // (3 * len(FLOWS))) % len(MODELS)].model_id,
                cohort=cohort,
                start_value=start_value,
                deposit=deposit,
                withdraw=withdraw,
                owner_choices=choices,
                fractional=(i % 5) != 4,  # every fifth trades whole shares only
            )
        )
    return plans
