"""The whole pipeline on the embedded stack: runs per second and p50/p99 latency from
portfolio.patched (a first funding) to run.completed — optimizer, order-router, broker simulator
and settlement-tracker as separate processes (T+0) — with the raw broker produce+consume rate for
the same message size measured in the same run, and the ratio.

    .venv/bin/python bench/pipeline/run.py [--runs 500] [--rate 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from steady_load import latency_table, run_under_load

SERVICES = ("broker-simulator", "optimizer", "order-router", "settlement-tracker")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rate", type=float, default=20.0, help="first fundings per second")
    args = parser.parse_args()
    console = Console(width=120)
    result, base = run_under_load(
        "bench-pipeline-", SERVICES, args.runs, args.rate, "run.completed", console
    )
    title = "pipeline: portfolio.patched -> run.completed (embedded stack, T+0)"
    console.print(latency_table(title, "runs", result, args.rate))
    console.print(base.line())
    # A run is ~10 messages (patched, created, ready, 2-4 orders filled, settled, completed).
    ratio = result.rate / base.produce_consume_per_s
    console.print(
        f"ratio: runs/s / raw produce+consume msgs/s = {ratio:.5f} (x10 messages per run: {10 * ratio:.4f})"
    )


if __name__ == "__main__":
    main()
