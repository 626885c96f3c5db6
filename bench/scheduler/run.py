"""Nightly batch over N subscribed portfolios (default 1,000,000) through the optimizer's fan-out on
the embedded stack: evaluations per second and total time, with a progress display.

The portfolios are seeded straight into the optimizer's SQLite store (set-up, not measured): funded,
balanced, subscribed to `balanced`, which is seeded too. Then the scheduler's nightly `rebalance.requested` (scope `all`,
with the scheduler's deterministic slot event id) is published; the optimizer fans it out into one
request per portfolio and evaluates each. Progress is the optimizer group's committed offsets on
`rebalance.requested` against the topic's end offsets.

    .venv/bin/python bench/scheduler/run.py [--portfolios 1000000] [--kafka tansu|apache]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import measure
from optimizer_seed import seed_portfolios
from rebal_demo.scenario import INITIAL_PRICES
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from steady_load import start_stack

from rebal_client.kafka import Publisher
from rebal_runtime.stack import STACK_KAFKA_ENV
from rebal_schemas import PriceUpdated, RebalanceRequested
from rebal_schemas.types import utc_now


def slot_of_today() -> str:
    return f"nightly:{utc_now().date().isoformat()}"


def _evaluated(path: Path, slot: str) -> int:
    """Proof that the work was done, not just the offsets committed: each evaluated portfolio
    remembers the slot id (its per-slot idempotency key) in its stored record."""
    db = sqlite3.connect(path)
    try:
        (count,) = db.execute(
            "SELECT count(*) FROM documents WHERE collection='portfolios' AND instr(state, ?) > 0",
            (f'"{slot}"'.encode(),),
        ).fetchone()
    finally:
        db.close()
    return int(count)


async def nightly(bootstrap: str, count: int, console: Console) -> tuple[float, int]:
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(
            PriceUpdated(symbol=s, price=p, as_of=utc_now(), producer="bench")
            for s, p in INITIAL_PRICES.items()
        )
        await asyncio.sleep(3)
        slot = slot_of_today()
        start = time.perf_counter()
        await publisher.publish(
            RebalanceRequested(
                event_id=f"slot:{slot}",
                scope="all",
                reason="nightly",
                slot_id=slot,
                producer="scheduler",
            )
        )
    probe: Any = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id="optimizer", enable_auto_commit=False
    )
    await probe.start()
    partitions = [TopicPartition("rebalance.requested", p) for p in range(6)]
    total = count + 1
    done = 0
    with Progress(
        TextColumn("nightly batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("evaluations"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("nightly", total=total)
        while done < total:
            await asyncio.sleep(1.0)
            committed = [await probe.committed(tp) or 0 for tp in partitions]
            done = sum(committed)
            bar.update(task, completed=done)
    elapsed = time.perf_counter() - start
    await probe.stop()
    messages, distinct = await _count_requests(bootstrap, partitions)
    console.print(
        f"rebalance.requested holds {messages:,} messages, {distinct:,} distinct ids "
        f"(the request and one child per portfolio: {count + 1:,})"
    )
    return elapsed, done


async def _count_requests(bootstrap: str, partitions: list[TopicPartition]) -> tuple[int, int]:
    """Read the whole topic back: how many messages, how many distinct event ids (a fan-out
    that published a child twice shows up here)."""
    reader: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await reader.start()
    reader.assign(partitions)
    await reader.seek_to_beginning()
    messages, ids = 0, set[bytes | None]()
    try:
        while batches := await reader.getmany(timeout_ms=2000, max_records=10_000):
            for records in batches.values():
                messages += len(records)
                ids.update(dict(r.headers).get("event_id") for r in records)
    finally:
        await reader.stop()
    return messages, len(ids)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=1_000_000)
    parser.add_argument("--kafka", choices=("tansu", "apache"), default="tansu")
    args = parser.parse_args()
    os.environ[STACK_KAFKA_ENV] = args.kafka
    console = Console(width=120)
    var = Path(tempfile.mkdtemp(prefix="bench-nightly-"))
    seed_portfolios(var / "optimizer.sqlite", args.portfolios, console, prefix="nb")
    stack = start_stack(var, only=("optimizer",))
    try:
        elapsed, _ = asyncio.run(nightly(stack.kafka.bootstrap_servers, args.portfolios, console))
        base = asyncio.run(measure(stack.kafka.bootstrap_servers, 400, 20_000))
    finally:
        stack.stop()
    rate = args.portfolios / elapsed
    console.print(
        f"nightly batch: {args.portfolios:,} portfolios evaluated in {elapsed:,.1f}s "
        f"= {rate:,.0f} evaluations/s on {args.kafka} "
        "(2 cores shared by broker, optimizer and this driver)"
    )
    if args.portfolios != 1_000_000:
        console.print(
            f"extrapolated to 1,000,000 portfolios: {1_000_000 / rate / 60:,.1f} "
            "minutes (target < 10)"
        )
    else:
        console.print(f"total: {elapsed / 60:,.1f} minutes (target < 10)")
    console.print(
        f"portfolios whose record holds the nightly slot: "
        f"{_evaluated(var / 'optimizer.sqlite', slot_of_today()):,}"
    )
    console.print(base.line())
    console.print(
        f"ratio: evaluations/s / raw produce+consume msgs/s = {rate / base.produce_consume_per_s:.4f}"
    )


if __name__ == "__main__":
    main()
