"""End to end over the embedded stack: the eight flows, funding, drift, advisory choices, withdrawals.

The demo's driver plays the clients (middleware fills for CLIENT integration, the external optimizer,
advisory owners) against the real services running as separate processes."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import FLOWS, MODELS_BY_ID, plan_portfolios

from rebal_runtime.stack import Stack
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import BrokerIntegration, OptimizationStatus, RunType

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_one_demo_day_over_every_flow(stack: Stack) -> None:
    plans = plan_portfolios(48, seed=11)

    async def day() -> Driver:
        await ensure_topics(stack.kafka.bootstrap_servers)
        options = DemoOptions(price_ticks=3, quiet_seconds=2.5, phase_timeout=150)
        async with Driver(stack.kafka.bootstrap_servers, plans, options, lambda *_: None) as driver:
            await driver.setup()
            await driver.funding()
            await driver.market_move()
            await driver.withdrawals()
        return driver

    driver = asyncio.run(day())
    client = driver.client
    missing = set(client.readies) - set(client.completed)
    assert not missing, f"ready without run.completed: {sorted(missing)[:5]}\n{logs(stack)}"
    assert client.dead_letters == [], client.dead_letters[0].reason
    runs = list(client.completed.values())
    assert {r.run_type for r in runs} >= {
        RunType.full_rebalance,
        RunType.invest_cash,
        RunType.withdrawal,
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
    funded_runs = {r.portfolio_id for r in runs if r.run_type != RunType.withdrawal}
    for pid in rejected:
        plan = driver.plans[pid]
        if plan.cohort == "new":
            assert pid not in funded_runs, "a rejected advisory optimization is never executed"

    # Drifters that were rebalanced are back inside their bands.
    rebalanced = {r.portfolio_id for r in runs if r.run_type == RunType.full_rebalance}
    for pid, plan in driver.plans.items():
        if plan.cohort == "drifter" and pid in rebalanced:
            drift = client.books[pid].max_drift(MODELS_BY_ID[plan.model_id], client.prices)
            assert drift < 5, f"{pid} still drifts {drift} pp after its rebalance"
    assert any(driver.plans[pid].cohort == "drifter" for pid in rebalanced), (
        "drift triggered rebalances"
    )
