"""`run.py --profile`: py-spy on every service during the model-change burst, with the pipeline
profile's mechanism (`pipeline/profile_run.py` `profiled_window`, `pipeline/stages.py`).

py-spy starts `--profile-after` s after the model is published (the optimizer's fan-out has
begun, the first runs reach the router) and records `--profile-seconds`; a burst shorter than
that is recorded to its end and then idle. Writes `var/profile/<UTC time>/<service>.speedscope.json`,
`summary.json` and `breakdown.md`, and prints the split per service and stage and the hottest
functions. py-spy's own CPU is printed beside the services': on 2 cores it slows the burst, so
the figures of a run with `--profile` are not the benchmark's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from baseline import Baseline
from pipeline.profile_run import Window, hot, markdown, profiled_window, tables, tree
from pipeline.stages import breakdown
from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]


class BurstProfile:
    def __init__(
        self, bootstrap: str, pids: dict[str, int], services: tuple[str, ...], args: Any
    ) -> None:
        self.bootstrap = bootstrap
        self.pids = pids
        self.services = {name: pid for name, pid in pids.items() if name in services}
        self.args: argparse.Namespace = args
        self.out = ROOT / "var" / "profile" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.window = Window()
        self.code = tree()

    async def record(self, over: asyncio.Event) -> None:
        """Run beside the burst, from the model's publish on, for the set duration (`over`
        does not stop it: py-spy's recordings have one length)."""
        self.out.mkdir(parents=True)
        await asyncio.sleep(self.args.profile_after)
        consumer: Any = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        admin: Any = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await consumer.start()
        await admin.start()
        try:
            self.window = await profiled_window(
                consumer,
                admin,
                self.pids,
                self.services,
                self.out,
                self.args.profile_seconds,
                self.args.hz,
                Console(stderr=True),
            )
        finally:
            await consumer.stop()
            await admin.close()

    def report(self, burst_cpu: dict[str, float], base: Baseline, console: Console) -> None:
        window = self.window
        summary = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "portfolios": self.args.portfolios,
            "sampling_hz": self.args.hz,
            "profile_after_s": self.args.profile_after,
            "tree": self.code,
            "burst_cpu_percent": burst_cpu,
            "window": asdict(window),
            "baseline": asdict(base),
            "load_average": os.getloadavg(),
        }
        (self.out / "summary.json").write_text(json.dumps(summary, indent=1))
        results = [
            breakdown(name, self.out / f"{name}.speedscope.json")
            for name in self.services
            if (self.out / f"{name}.speedscope.json").exists()
        ]
        wall, cost = tables(results, window)
        console.print(wall)
        console.print(cost)
        facts = [
            f"{self.args.portfolios:,} subscribers; profiled {window.seconds:.0f} s from "
            f"{self.args.profile_after:.0f} s after the publish: {window.runs_per_s:.1f} runs/s",
            "CPU in the window (100% = one of the 2 cores): "
            + ", ".join(f"{k} {v:.0f}%" for k, v in window.cpu_percent.items()),
            "records produced per run in the window: "
            + ", ".join(
                f"{t} {n / max(1, window.messages.get('run.completed', 0)):.1f}"
                for t, n in sorted(window.messages.items(), key=lambda kv: -kv[1])
            ),
            f"code: {self.code['commit'][:10]} + {len(self.code['changed_sources'])} changed "
            "source files in the working tree (summary.json lists them)",
        ]
        for line in facts:
            console.print(line)
        for b in results:
            console.print(hot(b))
        (self.out / "breakdown.md").write_text(
            markdown(wall)
            + "\n"
            + markdown(cost)
            + "\n"
            + "\n".join(f"- {f}" for f in facts)
            + "\n"
        )
        console.print(f"profiles, summary.json and breakdown.md in {self.out}")
