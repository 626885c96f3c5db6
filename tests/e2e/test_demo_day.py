"""End to end over the embedded stack: the eight flows, funding, drift, advisory choices, withdrawals.

The demo's driver plays the clients (middleware fills for CLIENT integration, the external optimizer,
advisory owners) against the real services running as separate processes."""

from __future__ import annotations

import asyncio

import pytest
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_runtime.stack import Stack
from rebal_runtime.topics_admin import ensure_topics

from .conftest import logs
from .demo_day_checks import assert_demo_day

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
    assert_demo_day(driver, logs(stack))
