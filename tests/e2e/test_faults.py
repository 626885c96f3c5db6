"""Fault suite: under a steady load of runs, every service is SIGKILLed several times at random
moments and restarted. Afterwards: every started run completed exactly once, the broker received
each client_order_id at most once, no valid event was dead-lettered, and every PLATFORM portfolio's
holdings and cash in the optimizer equal what its fills at the broker imply."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.scenario import plan_portfolios

from rebal_runtime.stack import Stack
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import BrokerIntegration, RunCompleted

from .conftest import logs

pytestmark = [pytest.mark.kafka, pytest.mark.fault, pytest.mark.slow]

VICTIMS = ("optimizer", "order-router", "settlement-tracker", "scheduler")
KILLS_PER_SERVICE = 2


class Chaos(threading.Thread):
    """Kills the services round-robin at random moments, restarting each after a short outage."""

    def __init__(self, stack: Stack, seed: int) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.rng = random.Random(seed)
        self.kills: Counter[str] = Counter()
        self.stop_event = threading.Event()

    def run(self) -> None:
        order = [name for _ in range(KILLS_PER_SERVICE) for name in VICTIMS]
        self.rng.shuffle(order)
        for name in order:
            if self.stop_event.wait(self.rng.uniform(1.0, 4.0)):
                return
            self.stack.kill(name)
            self.kills[name] += 1
            time.sleep(self.rng.uniform(0.2, 1.5))
            self.stack.restart(name)


def test_sigkill_every_service_under_load(stack: Stack) -> None:
    plans = plan_portfolios(64, seed=23)
    chaos = Chaos(stack, seed=5)

    async def ready_and_completed() -> tuple[set[str], dict[str, set[str]]]:
        """What is on the topics themselves: every ready run, and the run.completed ids per run."""
        bootstrap = stack.kafka.bootstrap_servers
        async with (
            TopicReader(bootstrap, "optimization.ready") as ready,
            TopicReader(bootstrap, "run.completed") as done,
        ):
            deadline = time.monotonic() + 120
            while True:
                await ready.settle(1.0)
                await done.settle(1.0)
                ready_ids = {e.optimization_id for e in ready.events()}  # type: ignore[attr-defined]
                ids: dict[str, set[str]] = defaultdict(set)
                for event in done.events():
                    assert isinstance(event, RunCompleted)
                    ids[event.run_id].add(event.event_id)
                if ready_ids <= set(ids) or time.monotonic() > deadline:
                    return ready_ids, ids

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
            ready_ids, per_run = await ready_and_completed()
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
    admin = httpx.get(f"http://127.0.0.1:{stack.simulator_port}/admin/orders", timeout=30).json()
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
    mismatches: list[str] = []
    deadline = time.monotonic() + 90
    while True:
        expected = expected_books(driver, admin["orders"], platform)
        actual = asyncio.run(optimizer_books(Path(stack.var_dir) / "optimizer.sqlite", platform))
        mismatches = [
            f"{pid}: holdings {actual[pid][0]} cash {actual[pid][1]}, fills imply {expected[pid][0]} cash {expected[pid][1]}"
            for pid in sorted(platform)
            if not books_equal(actual[pid], expected[pid])
        ]
        if not mismatches or time.monotonic() > deadline:
            break
        time.sleep(2)
    if mismatches:
        processed = asyncio.run(processed_ids(Path(stack.var_dir) / "optimizer.sqlite", platform))
        first = mismatches[0].split(":")[0]
        kinds = asyncio.run(event_kinds(stack.kafka.bootstrap_servers))
        mismatches.append(
            f"{first} processed, in order: " + ", ".join(kinds.get(e, e) for e in processed[first])
        )
    assert mismatches == [], "\n".join(mismatches[:12])


def books_equal(
    a: tuple[dict[str, Decimal], Decimal], b: tuple[dict[str, Decimal], Decimal]
) -> bool:
    holdings_a = {s: q for s, q in a[0].items() if q}
    holdings_b = {s: q for s, q in b[0].items() if q}
    return holdings_a == holdings_b and abs(a[1] - b[1]) <= Decimal("0.05")


def expected_books(
    driver: Driver, orders: list[dict], platform: set[str]
) -> dict[str, tuple[dict[str, Decimal], Decimal]]:  # type: ignore[type-arg]
    """Start (snapshot or nothing) + deposits - withdrawals paid + every fill at the broker."""
    from rebal_demo.book import balanced_account
    from rebal_demo.scenario import INITIAL_PRICES, MODELS_BY_ID

    books: dict[str, tuple[dict[str, Decimal], Decimal]] = {}
    for pid in platform:
        plan = driver.plans[pid]
        start = (
            balanced_account(MODELS_BY_ID[plan.model_id], plan.start_value, INITIAL_PRICES)
            if plan.cohort != "new"
            else None
        )
        holdings = dict(start.holdings) if start else {}
        cash = start.cash if start else Decimal(0)
        if plan.cohort in ("new", "investor"):
            cash += plan.deposit
        cash -= driver.client.paid_out.get(pid, Decimal(0))
        books[pid] = (holdings, cash)
    for order in orders:
        pid = order["account_id"].removeprefix("acct-")
        if pid not in books or Decimal(order.get("filled_qty") or 0) == 0:
            continue
        holdings, cash = books[pid]
        qty = Decimal(order["filled_qty"])
        value = (qty * Decimal(order["filled_avg_price"])).quantize(Decimal("0.01"))
        sign = 1 if order["side"] == "buy" else -1
        holdings[order["symbol"]] = holdings.get(order["symbol"], Decimal(0)) + sign * qty
        books[pid] = (holdings, cash - sign * value)
    return books


async def optimizer_books(
    path: Path, platform: set[str]
) -> dict[str, tuple[dict[str, Decimal], Decimal]]:
    store = SqliteStore(path)
    await store.open()
    try:
        books = {}
        for pid in platform:
            doc = await store.load("portfolios", pid)
            assert doc is not None, pid
            state = doc.state["portfolio"]
            books[pid] = (
                {s: Decimal(q) for s, q in state["holdings"].items()},
                Decimal(state["cash"]),
            )
        return books
    finally:
        await store.close()


async def processed_ids(path: Path, platform: set[str]) -> dict[str, tuple[str, ...]]:
    store = SqliteStore(path)
    await store.open()
    try:
        result = {}
        for pid in platform:
            doc = await store.load("portfolios", pid)
            result[pid] = doc.processed if doc else ()
        return result
    finally:
        await store.close()


async def event_kinds(bootstrap: str) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for topic in (
        "portfolio.patched",
        "optimization.submitted",
        "run.completed",
        "rebalance.requested",
        "optimization.decided",
        "market.prices",
    ):
        async with TopicReader(bootstrap, topic) as reader:
            await reader.settle(0.5)
            for e in reader.events():
                detail = (
                    getattr(e, "cash", None)
                    or getattr(e, "amount", None)
                    or getattr(e, "cash_delta", None)
                )
                kinds[e.event_id] = f"{e.event_type}({detail})"
    return kinds
