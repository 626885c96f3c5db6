"""`run.py --timeline`: every few seconds of the burst, how far each stage has come (records on
its output topic so far) and the CPU each process used since the last sample. A stage whose count
stops while the one before it has moved on, with its process idle, is waiting for something
other than the CPU: a poll, a lease, a batch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiokafka import AIOKafkaConsumer
from pipeline.profile_run import cpu_now, topic_ends
from rich.console import Console
from rich.table import Table

STAGES = (
    "rebalance.requested",
    "optimization.ready",
    "run.execution",
    "order.filled",
    "transaction.settled",
    "run.completed",
    "run.settled",
)
"""The burst's topics in pipeline order: the optimizer's fan-out and plans, the router's started
runs and fills, the settlement-tracker's settlements and run outcomes."""


class Timeline:
    def __init__(self, bootstrap: str, pids: dict[str, int], every: float = 2.0) -> None:
        self.bootstrap = bootstrap
        self.pids = pids
        self.every = every
        self.rows: list[tuple[float, dict[str, int], dict[str, float]]] = []

    async def record(self, over: asyncio.Event) -> None:
        """Sample until the burst is `over` (then once more)."""
        consumer: Any = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        start = last = time.perf_counter()
        cpu_before = cpu_now(self.pids)
        try:
            while True:
                ends, cpu, now = await topic_ends(consumer), cpu_now(self.pids), time.perf_counter()
                used = {n: 100 * (cpu[n] - cpu_before.get(n, 0.0)) / (now - last) for n in cpu}
                self.rows.append((now - start, ends, used))
                cpu_before, last = cpu, now
                if over.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(over.wait(), self.every)
        finally:
            await consumer.stop()

    def table(self) -> Table:
        table = Table(title="the burst over time: records on each stage's topic, CPU % since")
        names = [n for n in self.pids if n != "this driver"]
        table.add_column("s", justify="right")
        for topic in STAGES:
            table.add_column(topic, justify="right")
        for name in names:
            table.add_column(f"{name} %", justify="right")
        for at, ends, used in self.rows:
            table.add_row(
                f"{at:.0f}",
                *(f"{ends.get(t, 0):,}" for t in STAGES),
                *(f"{used.get(n, 0.0):.0f}" for n in names),
            )
        return table

    def print(self, console: Console) -> None:
        console.print(self.table())
