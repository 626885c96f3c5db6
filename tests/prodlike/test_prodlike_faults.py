"""The fault suite (tests/e2e/test_faults.py) on the compose topology as processes: under a steady
load of runs, every instance of each pair (optimizer, order-router, settlement-tracker) and the
scheduler is SIGKILLed at random moments and restarted; the twin of a killed instance is killed
only once the restarted one is ready again, so a pair is never down as a whole. Afterwards every
ready run completed exactly once (one distinct run.completed event id per run), the broker
received each client_order_id once, no valid event was dead-lettered, and every PLATFORM
portfolio's holdings and cash in the optimizers' shared store equal what its fills imply.

A record published again after a SIGKILL (a relay that died between publishing and marking sent)
is allowed, consumers dedupe on event_id: the repeats are printed, not asserted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_runtime.prodlike import SCALED, ProdLikeStack
from rebal_schemas import BrokerIntegration

from ..e2e.fault_checks import Chaos, book_mismatches, ready_and_completed
from .conftest import (
    demo_kafka,
    logs,
    operator_options,
    read_to_end,
    repeated_ids,
    simulator_admin,
)

pytestmark = [
    pytest.mark.prodlike,
    pytest.mark.kafka,
    pytest.mark.apache_kafka,
    pytest.mark.fault,
    pytest.mark.slow,
    pytest.mark.timeout(900),
]

KILLS_PER_INSTANCE = 2


def down_together(chaos: Chaos, stack: ProdLikeStack) -> list[str]:
    """Pairs whose two instances were down (killed, not yet ready again) at the same time."""
    intervals: dict[str, list[tuple[float, float]]] = {}
    killed: dict[str, float] = {}
    for at, name, what in chaos.timeline:
        if what == "killed":
            killed[name] = at
        elif what == "ready":
            intervals.setdefault(name, []).append((killed.pop(name), at))
    overlaps = []
    for service in SCALED:
        first, second = stack.instances(service)
        for a0, a1 in intervals.get(first, []):
            for b0, b1 in intervals.get(second, []):
                if a0 < b1 and b0 < a1:
                    overlaps.append(f"{service}: {first} and {second} down together")
    return overlaps


def test_sigkill_every_instance_under_load(prodlike: ProdLikeStack) -> None:
    stack = prodlike
    victims = [name for service in SCALED for name in stack.instances(service)] + ["scheduler"]
    plans = plan_portfolios(64, seed=23)
    chaos = Chaos(
        stack, seed=5, victims=victims, kills_per_victim=KILLS_PER_INSTANCE, ready_between=True
    )
    began = time.monotonic()

    async def load() -> tuple[Driver, set[str], dict[str, set[str]], dict[str, dict[str, int]]]:
        options = DemoOptions(price_ticks=3, quiet_seconds=6.0, phase_timeout=300)
        async with Driver(demo_kafka(stack), plans, options, lambda *_: None) as driver:
            await driver.setup()
            chaos.start()
            await driver.funding()
            await driver.market_move()
            await driver.withdrawals()
            await asyncio.to_thread(chaos.join)
            await asyncio.to_thread(stack.wait_ready, 120)
            await driver.wait_until_settled("after the faults")
            # A run readied late (a restarted instance catching up) still needs the client's
            # middleware: keep the driver following until the topics agree.
            ready_ids, per_run = await ready_and_completed(operator_options(stack))
        repeats = {
            topic: repeated_ids(await read_to_end(stack, topic))
            for topic in ("optimization.ready", "run.completed")
        }
        return driver, ready_ids, per_run, repeats

    driver, ready_ids, per_run, repeats = asyncio.run(load())
    assert chaos.error is None, f"chaos stopped: {chaos.error!r}\n{logs(stack)}"
    client = driver.client
    admin = simulator_admin(stack, "/admin/orders")
    print(
        f"\nprod-like faults: {sum(chaos.kills.values())} SIGKILLs "
        f"({', '.join(f'{n} x{k}' for n, k in sorted(chaos.kills.items()))}) in "
        f"{time.monotonic() - began:.0f} s; {len(per_run)} runs completed of {len(ready_ids)} "
        f"ready; {len(admin['orders'])} broker orders, {len(admin['requests'])} order requests, "
        f"{admin['duplicate_requests']} duplicate requests; records published again after a "
        f"kill: { ({t: len(r) for t, r in repeats.items()}) }"
    )
    assert chaos.kills == Counter(dict.fromkeys(victims, KILLS_PER_INSTANCE))
    assert down_together(chaos, stack) == []

    # 1. every started run completed, exactly once (one distinct run.completed event per run)
    missing = set(client.readies) - set(client.completed)
    assert not missing, f"{len(missing)} runs never completed: {sorted(missing)[:5]}\n{logs(stack)}"
    assert sorted(ready_ids - set(per_run)) == [], logs(stack)
    assert {run: len(ids) for run, ids in per_run.items() if len(ids) != 1} == {}
    assert set(per_run) == ready_ids

    # 2. the broker placed each client_order_id once (a second request is checked last)
    accepted = Counter(
        r["client_order_id"] for r in admin["requests"] if r["outcome"].startswith("accepted")
    )
    assert [coid for coid, n in accepted.items() if n > 1] == []

    # 3. no valid event went to dead.letter
    assert client.dead_letters == [], [d.reason for d in client.dead_letters[:3]]

    # 4. holdings and cash in the optimizers' shared store equal what the fills imply
    platform = {pid for pid, p in driver.plans.items() if p.broker == BrokerIntegration.PLATFORM}
    optimizer_db = Path(stack.store_url("optimizer").removeprefix("sqlite:///"))
    mismatches = book_mismatches(
        driver, admin["orders"], platform, optimizer_db, operator_options(stack)
    )
    assert mismatches == [], "\n".join(mismatches[:12])

    # 5. ... and received each client_order_id once: no second request at all, not even one it
    # refused as a duplicate. Both order-router instances follow the broker's trade-update stream
    # and poll the shared store, so a fill wakes both; the run's store lease (DocumentStore.
    # acquire_lease) lets one at a time dispatch, cancel or reconcile a run, and a SIGKILLed
    # holder's lease expires before its twin (or its restart) takes the run over and looks the
    # orders up.
    requested = Counter(r["client_order_id"] for r in admin["requests"] if r["client_order_id"])
    duplicates = [r["client_order_id"] for r in admin["requests"] if r["outcome"] == "duplicate"]
    assert admin["duplicate_requests"] == 0, f"refused as duplicates: {duplicates[:5]}"
    assert [coid for coid, n in requested.items() if n > 1] == []
