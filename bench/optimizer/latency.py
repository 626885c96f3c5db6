"""Optimizer latency on the embedded stack: p50/p99 from portfolio.patched (a first deposit) to
optimization.ready, at a steady 200 events/s, the optimizer running as its own process.

    .venv/bin/python bench/optimizer/latency.py [--events 2000] [--rate 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from steady_load import cpu_line, latency_table, run_under_load, stages_table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    console = Console(width=120)
    result, base = run_under_load(
        "bench-opt-", ("optimizer",), args.events, args.rate, "optimization.ready", console
    )
    title = "optimizer: portfolio.patched -> optimization.ready (embedded stack)"
    console.print(latency_table(title, "events", result, args.rate))
    console.print(stages_table(result))
    console.print(cpu_line(result))
    console.print(base.line())
    console.print(
        f"ratio: optimizer throughput / raw produce+consume = {result.rate / base.produce_consume_per_s:.4f}"
    )


if __name__ == "__main__":
    main()
