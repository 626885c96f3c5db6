"""Shared by the stack benchmarks: an embedded stack, N funded-on-demand portfolios, deposits at a
steady rate, and the latency from each deposit (portfolio.patched) to a chosen output event."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from rebal_demo.__main__ import DEMO_ENVIRONMENT
from rebal_demo.scenario import INITIAL_PRICES, MODELS
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from rebal_client.kafka import KafkaConnection, Publisher
from rebal_runtime.stack import Stack
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    CashDeposited,
    Mandate,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
)
from rebal_schemas.types import utc_now


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return (
        ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
        if ordered
        else float("nan")
    )


@dataclass
class LoadResult:
    sent: int
    received: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    # the same latency split at the output record's Kafka timestamp (when the service produced it)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    cpu_percent: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


def start_stack(var: Path, only: tuple[str, ...] | None = None) -> Stack:
    stack = Stack(var, overrides=DEMO_ENVIRONMENT)
    stack.start(echo=False, only=only)
    try:
        stack.wait_ready(180)
    except BaseException:
        stack.stop()  # a service that failed to start leaves no broker or service behind
        raise
    return stack


async def steady_deposits(
    bootstrap: str,
    count: int,
    rate: float,
    until_topic: str,
    console: Console,
    prefix: str = "bp",
    watch: dict[str, int] | None = None,
    connection: KafkaConnection | None = None,
) -> LoadResult:
    """Create `count` PLATFORM/DISCRETIONARY portfolios, then fund them at `rate`/s; each first
    funding is a full rebalance. Measures deposit -> first `until_topic` event for the portfolio.
    `connection`: who to be on a secured broker (default: `bootstrap`, unauthenticated)."""
    connection = connection or KafkaConnection(bootstrap)
    security = connection.options()
    del security["bootstrap_servers"]
    await ensure_topics(bootstrap, **security)
    async with Publisher(connection) as publisher:
        await publisher.publish_many(
            PriceUpdated(symbol=s, price=p, as_of=utc_now(), producer="bench")
            for s, p in INITIAL_PRICES.items()
        )
        await publisher.publish_many(MODELS)
        # The models first, read before any portfolio subscribes: a model the optimizer reads
        # after its subscribers re-evaluates all of them, a fan-out inside the measured load.
        await drained(bootstrap, "optimizer", MODELS[0].TOPIC, options=security)
        await publisher.publish_many(
            PortfolioSettingsChanged(
                portfolio_id=f"{prefix}-{i:06d}",
                mandate=Mandate.DISCRETIONARY,
                broker_integration=BrokerIntegration.PLATFORM,
                optimizer=OptimizerMode.PLATFORM,
                model_id=MODELS[i % len(MODELS)].model_id,
                producer="bench",
            )
            for i in range(count)
        )
        await asyncio.sleep(3)  # settings applied before the clock starts
        sent_at: dict[str, float] = {}
        sent_wall: dict[str, float] = {}
        arrived: dict[str, float] = {}
        arrived_wall: dict[str, float] = {}
        produced_wall: dict[str, float] = {}
        consumer: Any = AIOKafkaConsumer(
            until_topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="latest",
            enable_auto_commit=False,
            fetch_max_wait_ms=5,  # Tansu holds an empty fetch for the whole wait
            **security,
        )
        await consumer.start()
        await asyncio.sleep(1)

        async def follow() -> None:
            while len(arrived) < count:
                batches = await consumer.getmany(timeout_ms=200)
                now, wall = time.perf_counter(), time.time()
                for records in batches.values():
                    for record in records:
                        # Keyed by portfolio_id (both output topics): no decoding on the clock.
                        pid = record.key.decode() if record.key else ""
                        if pid in sent_at and pid not in arrived:
                            arrived[pid], arrived_wall[pid] = now, wall
                            produced_wall[pid] = record.timestamp / 1000

        follower = asyncio.create_task(follow())
        watched = watch or {}
        cpu_before = cpu_times(watched)
        start = time.perf_counter()
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(f"deposits at {rate:.0f}/s -> {until_topic}", total=count)
            for i in range(count):
                due = start + i / rate
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                pid = f"{prefix}-{i:06d}"
                sent_at[pid], sent_wall[pid] = time.perf_counter(), time.time()
                await publisher.publish(
                    CashDeposited(portfolio_id=pid, amount=Decimal("25000"), producer="bench")
                )
                bar.update(task, completed=len(arrived))
            deadline = time.perf_counter() + 120
            while len(arrived) < count and time.perf_counter() < deadline:
                bar.update(task, completed=len(arrived))
                await asyncio.sleep(0.2)
        follower.cancel()
        cpu = cpu_percent_since(watched, cpu_before, time.perf_counter() - start)
        await consumer.stop()
        elapsed = max(arrived.values(), default=start) - start
        stages = {
            f"deposit sent -> {until_topic} produced": [
                (produced_wall[p] - sent_wall[p]) * 1000 for p in arrived
            ],
            f"{until_topic} produced -> read by the client": [
                (arrived_wall[p] - produced_wall[p]) * 1000 for p in arrived
            ],
        }
        return LoadResult(
            count,
            len(arrived),
            elapsed,
            [(arrived[p] - sent_at[p]) * 1000 for p in arrived],
            stages,
            cpu,
        )


def run_under_load(
    prefix: str, only: tuple[str, ...], count: int, rate: float, until_topic: str, console: Console
) -> tuple[LoadResult, Any]:
    """Start the stack subset, run the steady load, then measure the raw broker in the same run."""
    from baseline import measure

    stack = start_stack(Path(tempfile.mkdtemp(prefix=prefix)), only=only)
    pids = stack_pids(stack)
    try:
        result = asyncio.run(
            steady_deposits(
                stack.kafka.bootstrap_servers, count, rate, until_topic, console, watch=pids
            )
        )
        return result, asyncio.run(measure(stack.kafka.bootstrap_servers, 600, 20_000))
    finally:
        stack.stop()


async def drained(
    bootstrap: str,
    group: str,
    topic: str,
    timeout: float = 120,
    options: dict[str, Any] | None = None,
) -> None:
    """Wait until consumer group `group` has committed every record of `topic`."""
    probe: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, **(options or {}))
    await probe.start()
    try:
        await probe.topics()  # fetches the cluster's metadata: partitions_for_topic needs it
        partitions = [TopicPartition(topic, p) for p in probe.partitions_for_topic(topic) or ()]
        ends = await probe.end_offsets(partitions)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = [await probe.committed(tp) or 0 for tp in partitions]
            if all(c >= ends[tp] for c, tp in zip(committed, partitions, strict=True)):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{group} has not read {topic} within {timeout:.0f} s")
    finally:
        await probe.stop()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stack_pids(stack: Stack) -> dict[str, int]:
    """The processes whose CPU a stack benchmark reports: the broker, every service, the driver."""
    broker = getattr(stack.kafka, "process", None)  # a launcher with a process of its own
    pids = {f"broker ({type(stack.kafka).__name__})": broker.pid if broker is not None else 0}
    pids |= {p.name: p.process.pid for p in stack.processes if p.process is not None}
    pids["this driver"] = os.getpid()
    return pids


def cpu_times(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


def cpu_percent_since(
    pids: dict[str, int], before: dict[str, float], seconds: float
) -> dict[str, float]:
    """CPU each process used since `before` (`cpu_times`), as % of one core over `seconds`."""
    return {name: 100 * (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


class CpuMeasured(Protocol):
    @property
    def cpu_percent(self) -> dict[str, float]: ...


def cpu_line(result: CpuMeasured, during: str = "the load") -> str:
    used = ", ".join(f"{name} {pct:.0f}%" for name, pct in result.cpu_percent.items())
    return f"CPU during {during} (100% = one of the 2 cores): {used}"


def latency_table(title: str, what: str, result: LoadResult, offered: float) -> Table:
    table = Table(title=title)
    for col in (what, "offered/s", "achieved/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    lat = result.latencies_ms
    table.add_row(
        str(result.received),
        f"{offered:.0f}",
        f"{result.rate:.1f}",
        f"{percentile(lat, 50):.1f}",
        f"{percentile(lat, 99):.1f}",
        f"{max(lat, default=float('nan')):.1f}",
    )
    return table


def stages_table(result: LoadResult) -> Table:
    """Where the time goes (Kafka record timestamps have millisecond resolution)."""
    table = Table(title="where the time goes")
    for col in ("stage", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    for stage, values in result.stages_ms.items():
        table.add_row(
            stage,
            f"{percentile(values, 50):.1f}",
            f"{percentile(values, 99):.1f}",
            f"{max(values, default=float('nan')):.1f}",
        )
    return table
