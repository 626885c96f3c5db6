"""Order-router benchmark: orders per second through router + simulator, and the latency from
publishing optimization.ready to the last order.filled of its run (p50 / p99).

Everything runs as it does in the embedded stack: Tansu, `python -m rebal_broker_sim` and
`python -m rebal_order_router` as their own processes. Two scenarios:
  burst  - every run published at once: orders/s is total orders / (first publish -> last fill);
  paced  - runs published at a steady rate well below capacity: the latency figures.
Each run has 3 sells and 2 buys, so every run goes through both phases (sells, then buys).
The raw broker baseline (bench/baseline.py) is measured in the same run for the ratio.
"router ms/run" ("sim ms/run") is the router's (the simulator's) process CPU time per run in
the scenario (Linux /proc): the figure a shared machine moves least.
Usage: .venv/bin/python bench/order_router/run.py [--runs 100] [--paced-runs 40] [--rate 8]
(BENCH_PROFILE=/tmp/router.prof also writes a cProfile of the router process.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baseline import measure

from rebal_runtime.embedded import EmbeddedKafka, free_port
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    BrokerIntegration,
    OptimizationReady,
    OrderFilled,
    PlannedOrder,
    RunType,
    decode,
    encode,
    key_of,
)

LEGS = [("AAPL", "sell"), ("GOOG", "sell"), ("AMZN", "sell"), ("MSFT", "buy"), ("NVDA", "buy")]
PRICES = {"AAPL": "200", "GOOG": "150", "AMZN": "180", "MSFT": "400", "NVDA": "120"}


def start_simulator(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port, port_file = free_port(), workdir / "sim.port"
    args = ["--host", "127.0.0.1", "--port", str(port), "--db", str(workdir / "sim.sqlite")]
    args += ["--port-file", str(port_file)]
    args += [f"--price={symbol}={price}" for symbol, price in PRICES.items()]
    with (workdir / "sim.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "rebal_broker_sim", *args], stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if port_file.exists() and httpx.get(f"{url}/health").is_success:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError("simulator did not start")


def start_router(workdir: Path, bootstrap: str, broker_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REBAL_SERVICE_NAME": f"order-router-bench-{uuid.uuid4().hex[:6]}",
        "REBAL_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "REBAL_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "REBAL_STORE_URL": f"sqlite:///{workdir / 'router.sqlite'}",
        "REBAL_BROKER_BASE_URL": broker_url,
        "REBAL_BROKER_REQUESTS_PER_MINUTE": "600000",  # the simulator is not rate limited
        # the one bound on orders in flight (BENCH_IN_FLIGHT to compare others)
        "REBAL_BROKER_MAX_IN_FLIGHT": os.environ.get("BENCH_IN_FLIGHT", "64"),
        "REBAL_OUTBOX_POLL_SECONDS": "0.05",
        # Any hour: the execution window is always open (a dev-profile setting).
        "REBAL_PROFILE": "dev",
        "REBAL_TRADING_CALENDAR": "ALWAYS_OPEN",
        "REBAL_LOG_LEVEL": "WARNING",
        "REBAL_LOG_FORMAT": "json",
    }
    log = (workdir / "router.log").open("ab")
    profile = (
        ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
        if os.environ.get("BENCH_PROFILE")
        else []
    )
    return subprocess.Popen(
        [sys.executable, *profile, "-m", "rebal_order_router"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def ready(run_id: str) -> OptimizationReady:
    return OptimizationReady(
        optimization_id=run_id,
        portfolio_id=f"pf-{run_id}",
        account_id="acct-bench",
        run_type=RunType.full_rebalance,
        broker_integration=BrokerIntegration.PLATFORM,
        orders=tuple(
            PlannedOrder(leg=i + 1, symbol=symbol, side=side, qty=Decimal(1))
            for i, (symbol, side) in enumerate(LEGS)
        ),
        correlation_id=run_id,
        producer="bench",
    )


class FillWatcher:
    """Reads order.filled from the start; the arrival time of each run's last final fill."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.final_fills: dict[str, set[int]] = {}
        self.done_at: dict[str, float] = {}

    async def start(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic("order.filled") or {0}
        tps = [TopicPartition("order.filled", p) for p in sorted(partitions)]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)

    async def follow(self) -> None:
        """Runs beside the publisher, so each arrival time is when the fill reached a consumer."""
        while True:
            batches = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    event = decode("order.filled", record.value)
                    if isinstance(event, OrderFilled) and event.status == "filled":
                        legs = self.final_fills.setdefault(event.run_id, set())
                        legs.add(event.leg)
                        if len(legs) == len(LEGS) and event.run_id not in self.done_at:
                            self.done_at[event.run_id] = now

    async def wait_for(self, run_ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not run_ids <= self.done_at.keys():
            if time.monotonic() > deadline:
                missing = len(run_ids - self.done_at.keys())
                raise TimeoutError(f"{missing} runs not completed in {timeout}s")
            await asyncio.sleep(0.02)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def scenario(
    bootstrap: str,
    watcher: FillWatcher,
    name: str,
    runs: int,
    rate: float | None,
    router_pid: int,
    sim_pid: int,
) -> dict[str, float]:
    cpu_before, sim_before = cpu_seconds(router_pid), cpu_seconds(sim_pid)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    await producer.start()
    sent_at: dict[str, float] = {}
    try:
        events = [ready(f"{name}-{uuid.uuid4().hex[:8]}-{i}") for i in range(runs)]
        start = time.perf_counter()
        for i, event in enumerate(events):
            if rate is not None:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            sent_at[event.optimization_id] = time.perf_counter()
            await producer.send_and_wait(event.TOPIC, encode(event), key=key_of(event))
    finally:
        await producer.stop()
    await watcher.wait_for(set(sent_at), timeout=60 + runs)
    router_cpu = cpu_seconds(router_pid) - cpu_before
    sim_cpu = cpu_seconds(sim_pid) - sim_before
    latencies = sorted((watcher.done_at[r] - sent_at[r]) * 1000 for r in sent_at)
    elapsed = max(watcher.done_at[r] for r in sent_at) - min(sent_at.values())
    return {
        "runs": runs,
        "orders": runs * len(LEGS),
        "orders_per_s": runs * len(LEGS) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "router_ms_per_run": router_cpu * 1000 / runs,
        "sim_ms_per_run": sim_cpu * 1000 / runs,
    }


async def bench(args: argparse.Namespace, kafka: EmbeddedKafka, workdir: Path) -> None:
    bootstrap = kafka.bootstrap_servers
    await ensure_topics(bootstrap)
    base = await measure(bootstrap, messages=5000)
    sim, sim_url = start_simulator(workdir)
    router = start_router(workdir, bootstrap, sim_url)
    watcher = FillWatcher(bootstrap)
    await watcher.start()
    follower = asyncio.create_task(watcher.follow())
    try:
        # group join, connections
        await scenario(bootstrap, watcher, "warmup", 3, None, router.pid, sim.pid)
        results = {
            "burst": await scenario(
                bootstrap, watcher, "burst", args.runs, None, router.pid, sim.pid
            ),
            "paced": await scenario(
                bootstrap, watcher, "paced", args.paced_runs, args.rate, router.pid, sim.pid
            ),
        }
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await watcher.consumer.stop()
        for proc in (router, sim):
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    print(base.line())
    print(f"runs of {len(LEGS)} orders (3 sells, then 2 buys); router and simulator as processes")
    print(
        f"{'scenario':<10}{'runs':>6}{'orders':>8}{'orders/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'ratio':>10}{'router ms/run':>15}{'sim ms/run':>12}"
    )
    for name, r in results.items():
        ratio = r["orders_per_s"] / base.produce_consume_per_s
        print(
            f"{name:<10}{r['runs']:>6.0f}{r['orders']:>8.0f}{r['orders_per_s']:>10.1f}"
            f"{r['p50_ms']:>9.0f}{r['p99_ms']:>9.0f}{ratio:>10.4f}{r['router_ms_per_run']:>15.1f}"
            f"{r['sim_ms_per_run']:>12.1f}"
        )
    print(
        "ratio = orders/s divided by the raw broker's produce+consume rate (same machine, same run)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100, help="runs in the burst scenario")
    parser.add_argument("--paced-runs", type=int, default=40, help="runs in the paced scenario")
    parser.add_argument("--rate", type=float, default=8.0, help="runs per second when paced")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rebal-bench-router-") as tmp, EmbeddedKafka() as kafka:
        asyncio.run(bench(args, kafka, Path(tmp)))


if __name__ == "__main__":
    main()
