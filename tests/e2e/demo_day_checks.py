"""The checks of one demo day, shared by the embedded and the prod-like topology: every ready run
completed, no dead letter, all eight flows, the advisory choices honoured, drifters back in band."""

from __future__ import annotations

from collections import Counter

from rebal_demo.driver import Driver
from rebal_demo.scenario import FLOWS, MODELS_BY_ID

from rebal_schemas import BrokerIntegration, OptimizationStatus, PortfolioRunType


def assert_demo_day(driver: Driver, logs: str) -> None:
    client = driver.client
    missing = set(client.readies) - set(client.completed)
    assert not missing, f"ready without run.completed: {sorted(missing)[:5]}\n{logs}"
    assert client.dead_letters == [], client.dead_letters[0].reason
    runs = list(client.completed.values())
    assert {r.type for r in runs} >= {
        PortfolioRunType.full_rebalance,
        PortfolioRunType.invest_cash,
        PortfolioRunType.partial_liquidation,
    }

    flows_with_runs = {driver.plans[r.portfolio_id].flow for r in runs}
    assert flows_with_runs == set(FLOWS), "every one of the eight flows completed a run"
    client_runs = [r for r in runs if r.broker_integration == BrokerIntegration.CLIENT]
    assert client_runs and all(o.filled_qty > 0 for r in client_runs for o in r.orders)

    statuses = Counter(c.status for c in client.status_changes)
    assert statuses[OptimizationStatus.REJECTED] >= 1
    assert statuses[OptimizationStatus.SUPERSEDED] >= 1
    rejected = {
        c.portfolio_id for c in client.status_changes if c.status == OptimizationStatus.REJECTED
    }
    funded_runs = {r.portfolio_id for r in runs if r.type != PortfolioRunType.partial_liquidation}
    for pid in rejected:
        plan = driver.plans[pid]
        if plan.cohort == "new":
            assert pid not in funded_runs, "a rejected advisory optimization is never executed"

    # Drifters that were rebalanced are back inside their bands.
    rebalanced = {r.portfolio_id for r in runs if r.type == PortfolioRunType.full_rebalance}
    for pid, plan in driver.plans.items():
        if plan.cohort == "drifter" and pid in rebalanced:
            drift = client.books[pid].max_drift(MODELS_BY_ID[plan.model_id], client.prices)
            assert drift < 5, f"{pid} still drifts {drift} pp after its rebalance"
    assert any(driver.plans[pid].cohort == "drifter" for pid in rebalanced), (
        "drift triggered rebalances"
    )
