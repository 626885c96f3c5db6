"""The whole pipeline on the embedded stack: runs per second and p50/p99 latency from
portfolio.patched (a first funding) to run.completed — optimizer, order-router, broker simulator
and settlement-tracker as separate processes (T+0) — with the raw broker produce+consume rate for
the same message size measured in the same run, and the ratio.

    .venv/bin/python bench/pipeline/run.py [--runs 500] [--rate 20]
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
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="first fundings per second")
    args = parser.parse_args()
    console = Console(width=120)
    stack = start_stack(
        Path(tempfile.mkdtemp(prefix="bench-pipeline-")),
        only=("broker-simulator", "optimizer", "order-router", "settlement-tracker"),
    )
    try:
        result = asyncio.run(
            steady_deposits(
                stack.kafka.bootstrap_servers, args.runs, args.rate, "run.completed", console
            )
        )
        base = asyncio.run(measure(stack.kafka.bootstrap_servers, 600, 20_000))
    finally:
        stack.stop()
    table = Table(title="pipeline: portfolio.patched -> run.completed (embedded stack, T+0)")
    for col in ("runs", "offered/s", "runs/s", "p50 ms", "p99 ms", "max ms"):
        table.add_column(col, justify="right")
    lat = result.latencies_ms
    table.add_row(
        str(result.received),
        f"{args.rate:.0f}",
        f"{result.rate:.1f}",
        f"{percentile(lat, 50):.0f}",
        f"{percentile(lat, 99):.0f}",
        f"{max(lat, default=float('nan')):.0f}",
    )
    console.print(table)
    console.print(base.line())
    # A run is ~10 messages (patched, created, ready, 2-4 orders filled, settled, completed).
    console.print(
        f"ratio: runs/s / raw produce+consume msgs/s = {result.rate / base.produce_consume_per_s:.5f}"
        f" (x10 messages per run: {10 * result.rate / base.produce_consume_per_s:.4f})"
    )


if __name__ == "__main__":
    main()
