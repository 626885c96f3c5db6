"""What the fault suites share (tests/e2e/test_faults.py over the embedded stack,
tests/prodlike/test_prodlike_faults.py over the compose topology as processes): the chaos thread
and the checks after it (runs on the topics, books against the broker's fills)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rebal_demo.driver import Driver

from rebal_runtime.stack import Stack
from rebal_runtime.store.sqlite import SqliteStore
from rebal_runtime.testing.kafka import read_to_end
from rebal_schemas import RunCompleted

VICTIMS = ("optimizer", "order-router", "settlement-tracker", "scheduler")
KILLS_PER_SERVICE = 2


class Chaos(threading.Thread):
    """Kills the services round-robin at random moments, restarting each after a short outage.

    One process is down at a time. `ready_between`: after a restart, wait until the restarted
    process is ready again (its ready file: consumers assigned) before the next kill, so that two
    instances of one service are never down together; `timeline` records (monotonic time, process,
    "killed" | "restarted" | "ready")."""

    def __init__(
        self,
        stack: Stack,
        seed: int,
        victims: Sequence[str] = VICTIMS,
        kills_per_victim: int = KILLS_PER_SERVICE,
        *,
        ready_between: bool = False,
        ready_timeout: float = 120.0,
    ) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.rng = random.Random(seed)
        self.victims = tuple(victims)
        self.kills_per_victim = kills_per_victim
        self.ready_between = ready_between
        self.ready_timeout = ready_timeout
        self.kills: Counter[str] = Counter()
        self.timeline: list[tuple[float, str, str]] = []
        self.error: BaseException | None = None
        self.stop_event = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by the test (a thread's exception is lost)
            self.error = exc

    def _run(self) -> None:
        order = [name for _ in range(self.kills_per_victim) for name in self.victims]
        self.rng.shuffle(order)
        for name in order:
            if self.stop_event.wait(self.rng.uniform(1.0, 4.0)):
                return
            self.stack.kill(name)
            self.kills[name] += 1
            self.timeline.append((time.monotonic(), name, "killed"))
            time.sleep(self.rng.uniform(0.2, 1.5))
            self.stack.restart(name)
            self.timeline.append((time.monotonic(), name, "restarted"))
            if self.ready_between:
                self._until_ready(name)
                self.timeline.append((time.monotonic(), name, "ready"))

    def _until_ready(self, name: str) -> None:
        proc = self.stack.process(name)
        deadline = time.monotonic() + self.ready_timeout
        while not self.stack.ready_file(proc).exists():
            if not proc.alive:
                raise RuntimeError(f"{name} exited after its restart")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready {self.ready_timeout}s after its restart")
            time.sleep(0.1)


Client = Mapping[str, Any]
"""aiokafka options of the reader: `bootstrap_servers`, plus SASL options on a secured broker."""


def as_client(bootstrap_or_client: str | Client) -> Client:
    if isinstance(bootstrap_or_client, str):
        return {"bootstrap_servers": bootstrap_or_client}
    return bootstrap_or_client


async def ready_and_completed(
    client: str | Client, timeout: float = 120.0
) -> tuple[set[str], dict[str, set[str]]]:
    """What is on the topics themselves: every ready run, and the run.completed event ids per
    run, read to the end offsets until each ready run has one (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while True:
        ready = await read_to_end("optimization.ready", **as_client(client))
        ready_ids = {e.optimization_id for e in ready}  # type: ignore[attr-defined]
        ids: dict[str, set[str]] = defaultdict(set)
        for event in await read_to_end("run.completed", **as_client(client)):
            assert isinstance(event, RunCompleted)
            ids[event.run_id].add(event.event_id)
        if ready_ids <= set(ids) or time.monotonic() > deadline:
            return ready_ids, ids
        await asyncio.sleep(1.0)


def book_mismatches(
    driver: Driver,
    orders: list[dict],  # type: ignore[type-arg]
    platform: set[str],
    optimizer_db: Path,
    client: str | Client,
    timeout: float = 90,
) -> list[str]:
    """Every PLATFORM portfolio whose holdings or cash in the optimizer's store differ from what
    its fills at the broker imply (a payout published during an outage may still be in flight, so
    the books get `timeout`); with the events the first one processed, in order."""
    mismatches: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        expected = expected_books(driver, orders, platform)
        actual = asyncio.run(optimizer_books(optimizer_db, platform))
        mismatches = [
            f"{pid}: holdings {actual[pid][0]} cash {actual[pid][1]}, fills imply {expected[pid][0]} cash {expected[pid][1]}"
            for pid in sorted(platform)
            if not books_equal(actual[pid], expected[pid])
        ]
        if not mismatches or time.monotonic() > deadline:
            break
        time.sleep(2)
    if mismatches:
        processed = asyncio.run(processed_ids(optimizer_db, platform))
        first = mismatches[0].split(":")[0]
        kinds = asyncio.run(event_kinds(client))
        mismatches.append(
            f"{first} processed, in order: " + ", ".join(kinds.get(e, e) for e in processed[first])
        )
    return mismatches


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


async def event_kinds(client: str | Client) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for topic in (
        "portfolio.patched",
        "optimization.submitted",
        "run.completed",
        "rebalance.requested",
        "optimization.decided",
        "market.prices",
    ):
        for e in await read_to_end(topic, **as_client(client)):
            detail = (
                getattr(e, "cash", None)
                or getattr(e, "amount", None)
                or getattr(e, "cash_delta", None)
            )
            kinds[e.event_id] = f"{e.event_type}({detail})"
    return kinds
