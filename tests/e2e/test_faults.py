"""Fault suite: under a steady load of runs, every service is SIGKILLed several times at random
moments and restarted. Afterwards: every started run completed exactly once, the broker received
each client_order_id at most once, no valid event was dead-lettered, and every PLATFORM portfolio's
holdings and cash in the optimizer equal what its fills at the broker imply."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_runtime.stack import Stack
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import BrokerIntegration

from .conftest import logs
from .fault_checks import KILLS_PER_SERVICE, VICTIMS, Chaos, book_mismatches, ready_and_completed

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.slow]


def test_sigkill_every_service_under_load(stack: Stack) -> None:
    plans = plan_portfolios(64, seed=23)
    chaos = Chaos(stack, seed=5)

    async def load() -> tuple[Driver, set[str], dict[str, set[str]]]:
        await ensure_topics(stack.kafka.bootstrap_servers)
        options = DemoOptions(price_ticks=3, quiet_seconds=6.0, phase_timeout=240)
        async with Driver(stack.kafka.bootstrap_servers, plans, options, lambda *_: None) as driver:
            await driver.setup()
            chaos.start()
            await driver.funding()
            await driver.market_move()
            await driver.withdrawals()
            chaos.join()
            stack.wait_ready(120)
            await driver.wait_until_settled("after the faults")
            # A run readied late (a restarted service catching up) still needs the client's
            # middleware: keep the driver following until the topics agree.
            ready_ids, per_run = await ready_and_completed(stack.kafka.bootstrap_servers)
        return driver, ready_ids, per_run

    driver, ready_ids, per_run = asyncio.run(load())
    assert sum(chaos.kills.values()) == KILLS_PER_SERVICE * len(VICTIMS)
    client = driver.client

    # 1. every started run completed, exactly once (one distinct run.completed event per run)
    missing = set(client.readies) - set(client.completed)
    assert not missing, f"{len(missing)} runs never completed: {sorted(missing)[:5]}\n{logs(stack)}"

    assert sorted(ready_ids - set(per_run)) == [], logs(stack)
    assert {run: len(ids) for run, ids in per_run.items() if len(ids) != 1} == {}
    assert set(per_run) == ready_ids

    # 2. the broker received each client_order_id at most once
    admin = httpx.get(
        f"http://127.0.0.1:{stack.simulator_port}/admin/orders",
        headers=stack.simulator_admin_headers(),
        timeout=30,
    ).json()
    accepted = Counter(
        r["client_order_id"] for r in admin["requests"] if r["outcome"].startswith("accepted")
    )
    assert [coid for coid, n in accepted.items() if n > 1] == []
    assert admin["duplicate_requests"] == 0

    # 3. no valid event went to dead.letter
    assert client.dead_letters == [], [d.reason for d in client.dead_letters[:3]]

    # (the broker stays up for the diagnostics below; the services are stopped first)
    # 4. holdings and cash in the optimizer equal what the fills imply (read from its store; a
    # payout published during an outage may still be in flight, so the books get a minute)
    platform = {pid for pid, p in driver.plans.items() if p.broker == BrokerIntegration.PLATFORM}
    mismatches = book_mismatches(
        driver,
        admin["orders"],
        platform,
        Path(stack.var_dir) / "optimizer.sqlite",
        stack.kafka.bootstrap_servers,
    )
    assert mismatches == [], "\n".join(mismatches[:12])
