"""The scale-out figure: the whole pipeline (first funding -> run.completed, T+0) on the prod-like
topology (secured Apache Kafka, 12 partitions per topic, pairs sharing one SQLite file, the
scheduler on FerretDB) with one and with two instances of each scalable service (optimizer,
order-router, settlement-tracker), at the same offered rate, and the ratio of two to one.

On these 2 shared cores a second instance cannot add CPU, so the figure is the cost of
coordination (a consumer group of two, two processes on one SQLite writer lock, twice the
consumers polling the broker), not a speed-up; on a machine with a core per process it would be.

    .venv/bin/python bench/scale_out/run.py [--rate 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import Baseline, measure
from rebal_demo.__main__ import DEMO_ENVIRONMENT
from rich.console import Console
from rich.table import Table
from steady_load import LoadResult, percentile, steady_deposits

from rebal_client.kafka import KafkaConnection
from rebal_runtime import prodlike, topic_acl


def one_topology(
    instances: int, rate: float, seconds: float, console: Console
) -> tuple[LoadResult, Baseline]:
    """The load on a fresh topology, then the raw rate of its broker (same run, services idle)."""
    stack = prodlike.build(
        Path(tempfile.mkdtemp(prefix="bench-scale-out-")), DEMO_ENVIRONMENT, instances=instances
    )
    stack.start(echo=False)
    try:
        stack.wait_ready(300)
        user, password = stack.secured.credentials(topic_acl.ADMIN)
        admin = KafkaConnection(
            stack.kafka.bootstrap_servers, "SASL_PLAINTEXT", "SCRAM-SHA-512", user, password
        )
        broker = getattr(stack.kafka, "process", None)
        pids = {"broker (Apache Kafka)": broker.pid if broker is not None else 0}
        pids |= {p.name: p.process.pid for p in stack.processes if p.process is not None}
        count = max(1, round(rate * seconds))
        result = asyncio.run(
            steady_deposits(
                stack.kafka.bootstrap_servers,
                count,
                rate,
                "run.completed",
                console,
                prefix=f"so{instances}",
                watch=pids,
                connection=admin,
            )
        )
        options = stack.secured.client_options(topic_acl.ADMIN)
        return result, asyncio.run(measure(stack.kafka.bootstrap_servers, 600, 20_000, options))
    finally:
        stack.stop()


SHORT = {"broker-simulator": "sim", "order-router": "router", "settlement-tracker": "tracker"}


def cpu_by_service(result: LoadResult) -> dict[str, float]:
    """CPU % per service (short names), the instances of a pair added up."""
    summed: dict[str, float] = {}
    for name, pct in result.cpu_percent.items():
        base = name.rsplit("-", 1)[0] if name[-1:].isdigit() and "-" in name else name
        short = "broker" if base.startswith("broker (") else SHORT.get(base, base)
        summed[short] = summed.get(short, 0.0) + pct
    return summed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0, help="first fundings per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="of load per topology")
    args = parser.parse_args()
    console = Console(width=140)
    measured = {n: one_topology(n, args.rate, args.seconds, console) for n in (1, 2)}
    results = {n: result for n, (result, _) in measured.items()}
    base = measured[1][1]
    table = Table(
        title=f"scale-out: the pipeline on the prod-like topology at {args.rate:.0f} first "
        f"fundings/s offered ({args.seconds:.0f} s, T+0)"
    )
    services = sorted({s for r in results.values() for s in cpu_by_service(r)})
    for col in ("instances", "runs", "achieved/s", "p50 ms", "p99 ms", *services, "CPU ms/run"):
        table.add_column(col, justify="right")
    for n, r in results.items():
        cpu = cpu_by_service(r)
        per_run = sum(cpu.values()) * 10 / r.rate if r.rate else float("nan")  # % -> ms per run
        table.add_row(
            str(n),
            f"{r.received}/{r.sent}",
            f"{r.rate:.1f}",
            f"{percentile(r.latencies_ms, 50):.0f}",
            f"{percentile(r.latencies_ms, 99):.0f}",
            *(f"{cpu.get(s, 0.0):.0f}%" for s in services),
            f"{per_run:.0f}",
        )
    console.print(table)
    console.print(base.line() + " (the one-instance topology's broker, after its load)")
    one, two = results[1], results[2]
    console.print(
        f"ratio two instances / one: achieved {two.rate / one.rate:.2f}, "
        f"p99 {percentile(two.latencies_ms, 99) / percentile(one.latencies_ms, 99):.2f}; "
        f"runs/s against the raw broker's produce+consume: one {one.rate / base.produce_consume_per_s:.5f}, "
        f"two {two.rate / base.produce_consume_per_s:.5f}"
    )
    console.print(
        "On 2 shared cores the second instance adds coordination, not CPU: read the ratio as "
        "the cost of running two (consumer group, shared SQLite writer lock, more consumers "
        "polling), not as a speed-up."
    )


if __name__ == "__main__":
    main()
