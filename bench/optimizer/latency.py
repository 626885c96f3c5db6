"""Optimizer latency on the embedded stack: p50/p99 from portfolio.patched (a first deposit) to
optimization.ready, at a steady 200 events/s, the optimizer running as its own process.

    .venv/bin/python bench/optimizer/latency.py [--events 2000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import measure
from rich.console import Console
from rich.table import Table
from steady_load import percentile, start_stack, steady_deposits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    console = Console(width=120)
    stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-opt-")), only=("optimizer",))
    try:
        result = asyncio.run(
            steady_deposits(
                stack.kafka.bootstrap_servers, args.events, args.rate, "optimization.ready", console
            )
        )
        base = asyncio.run(measure(stack.kafka.bootstrap_servers, 600, 20_000))
    finally:
        stack.stop()
    table = Table(title="optimizer: portfolio.patched -> optimization.ready (embedded stack)")
    for col in ("events", "offered rate/s", "achieved/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    lat = result.latencies_ms
    table.add_row(
        str(result.received),
        f"{args.rate:.0f}",
        f"{result.rate:.0f}",
        f"{percentile(lat, 50):.1f}",
        f"{percentile(lat, 99):.1f}",
        f"{max(lat, default=float('nan')):.1f}",
    )
    console.print(table)
    console.print(base.line())
    console.print(
        f"ratio: optimizer throughput / raw produce+consume = {result.rate / base.produce_consume_per_s:.4f}"
    )


if __name__ == "__main__":
    main()
