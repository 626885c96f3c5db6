"""Optimizer throughput: optimizations per second per core, straight on the pure domain.

    .venv/bin/python bench/optimizer/run.py [--seconds 1.0]

One line per case (10, 50, 500 assets x full_rebalance, invest_cash) for the domain's `evaluate`
(decision record + order generation + the optimization), then the raw baselines for the same
portfolios: `generate_orders` alone and the bare Decimal valuation (sum of qty x price), the floor
any optimizer pays. CPU time (`time.process_time`), so the figure is per core and does not depend
on what else the machine is doing.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain import (
    ModelPortfolio,
    Portfolio,
    PortfolioSettings,
    Price,
    RunType,
    TargetWeights,
    Trigger,
    TriggerReason,
    Weight,
    WeightType,
    evaluate,
    generate_orders,
)

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
TODAY = date(2026, 3, 4)
MAX_AGE = timedelta(minutes=15)


class Weekdays:
    def is_session(self, d: date) -> bool:
        return d.weekday() < 5

    def previous_session(self, d: date) -> date:
        d -= timedelta(days=1)
        while d.weekday() >= 5:
            d -= timedelta(days=1)
        return d


def case(assets: int, seed: int = 7) -> tuple[ModelPortfolio, Portfolio, dict[str, Price]]:
    rng = random.Random(seed)
    symbols = [f"S{n:04d}" for n in range(assets)]
    cents = 10_000 // assets  # equal weights in hundredths of a percent, remainder to cash
    weights = [Weight(WeightType.ASSET, s, Decimal(cents) / 100) for s in symbols]
    cash_cents = 10_000 - cents * assets
    if cash_cents:
        weights.append(Weight(WeightType.CASH, None, Decimal(cash_cents) / 100))
    model = ModelPortfolio("m", "bench", tuple(weights))
    prices = {s: Price(Decimal(rng.randint(500, 50_000)) / 100, True, True, NOW) for s in symbols}
    holdings = {s: Decimal(rng.randint(1, 2_000)) / 10 for s in symbols}
    portfolio = Portfolio(
        "p", holdings, Decimal(5_000), PortfolioSettings(model_id="m"), funded=True
    )
    return model, portfolio, prices


def per_second(work: Callable[[], object], seconds: float) -> float:
    work()  # warm up
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        work()
        count += 1
    return count / elapsed


def evaluation(
    model: ModelPortfolio, portfolio: Portfolio, prices: dict[str, Price], run_type: RunType
) -> Callable[[], object]:
    trigger = Trigger(TriggerReason.MANUAL, run_type=run_type)
    calendar = Weekdays()

    def work() -> object:
        result = evaluate(
            portfolio,
            trigger,
            model,
            prices,
            optimization_id="O1",
            now=NOW,
            today=TODAY,
            trading_days=calendar,
            max_price_age=MAX_AGE,
        )
        if result.optimization is None or not result.optimization.orders:
            raise AssertionError("the benchmark case must produce orders")
        return result

    return work


def order_generation(
    model: ModelPortfolio, portfolio: Portfolio, prices: dict[str, Price], run_type: RunType
) -> Callable[[], object]:
    targets = TargetWeights.from_weights(model.weights)

    def work() -> object:
        return generate_orders(
            run_type,
            portfolio.holdings,
            portfolio.cash,
            targets,
            prices,
            portfolio.settings,
            NOW,
            MAX_AGE,
        )

    return work


def valuation(portfolio: Portfolio, prices: dict[str, Price]) -> Callable[[], object]:
    holdings = dict(portfolio.holdings)
    quotes = {s: q.price for s, q in prices.items()}

    def work() -> object:
        return sum((qty * quotes[s] for s, qty in holdings.items()), Decimal(0))

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="CPU seconds per case")
    args = parser.parse_args()
    run_types = (RunType.FULL_REBALANCE, RunType.INVEST_CASH)
    cases = {n: case(n) for n in (10, 50, 500)}
    print(f"{'case':<46} {'per second per core':>20}")
    for assets, (model, portfolio, prices) in cases.items():
        for run_type in run_types:
            rate = per_second(evaluation(model, portfolio, prices, run_type), args.seconds)
            print(f"{f'evaluate {assets:>3} assets {run_type}':<46} {rate:>20,.0f}")
    for assets, (model, portfolio, prices) in cases.items():
        for run_type in run_types:
            rate = per_second(order_generation(model, portfolio, prices, run_type), args.seconds)
            print(f"{f'raw generate_orders {assets:>3} assets {run_type}':<46} {rate:>20,.0f}")
        rate = per_second(valuation(portfolio, prices), args.seconds)
        print(f"{f'raw baseline: valuation {assets:>3} assets':<46} {rate:>20,.0f}")


if __name__ == "__main__":
    main()
