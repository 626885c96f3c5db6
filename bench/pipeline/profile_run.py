"""Profile every service of the pipeline bench under its own load: the same embedded stack and
steady first fundings as `bench/pipeline/run.py` (`steady_load`), offered above the ceiling, with
`py-spy record` attached to each service process for `--seconds`: from `--warmup` s after the
first deposit (first-use imports compile, there is no .pyc here), once the setup's model fan-out
has drained (`fanout_drained`, at most `--lead` s). The router's broker limits are lifted unless
`--broker-limits`: the profile is of the software's ceiling.

Writes `var/profile/<UTC time>/<service>.speedscope.json` (open in https://www.speedscope.app),
`summary.json` (the load, the window's CPU per process, records produced and committed per topic,
the raw broker baseline, which code ran) and `breakdown.md`, and prints the split per service and
stage (`stages.py`), the hottest functions, and the runs/s achieved beside the raw broker rate
measured in the same run.

    .venv/bin/python bench/pipeline/profile_run.py [--rate 80] [--seconds 30] [--hz 50]
    .venv/bin/python bench/pipeline/profile_run.py --analyze var/profile/<time> [--inclusive 40]

py-spy attaches with ptrace (root or CAP_SYS_PTRACE, or kernel.yama.ptrace_scope=0) and samples
`--nonblocking`: it never pauses a service, so a stack may now and then be torn. Each py-spy uses
CPU of its own (printed): on a 2-core machine that is load the bench does not have without it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from baseline import Baseline, measure
from pipeline.run import SERVICES
from pipeline.stages import STAGES, Breakdown, breakdown, top
from rich.console import Console
from rich.table import Table
from steady_load import (
    LoadResult,
    cpu_seconds,
    latency_table,
    percentile,
    start_stack,
    steady_deposits,
)

from rebal_runtime.topics_admin import configured_topics

ROOT = Path(__file__).resolve().parents[2]
DEPOSIT = b'"event_type":"portfolio.cash_deposited"'


async def first_deposit(bootstrap: str) -> None:
    """Returns once the first cash deposit is on portfolio.patched (the settings come before)."""
    consumer: Any = AIOKafkaConsumer(
        "portfolio.patched",
        bootstrap_servers=bootstrap,
        auto_offset_reset="latest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=200)
            if any(DEPOSIT in r.value for records in batches.values() for r in records):
                return
    finally:
        await consumer.stop()


async def fanout_drained(consumer: Any, admin: Any, limit: float) -> float:
    """Waits (at most `limit` s) until the optimizer has read every rebalance.requested record.

    The setup publishes the models before the settings, but the optimizer reads model.updated
    beside portfolio.patched, so each model's re-evaluation fans out over the portfolios already
    subscribed: one rebalance.requested per portfolio, up to the load's whole portfolio count,
    evaluated at the start of the load. That is not the pipeline's work: the profile starts once
    it is done. Returns the seconds waited."""
    parts = [
        TopicPartition("rebalance.requested", p) for p in range(partitions("rebalance.requested"))
    ]
    began = time.perf_counter()
    while time.perf_counter() - began < limit:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
        read = (await committed(admin, ["optimizer"], parts))["optimizer"]
        if read.get("rebalance.requested", 0) >= sum(ends.values()):
            break
        await asyncio.sleep(0.5)
    return time.perf_counter() - began


async def committed(
    admin: Any, groups: list[str], parts: list[TopicPartition] | None = None
) -> dict[str, dict[str, int]]:
    """Records each consumer group has committed, per topic (sum over partitions)."""
    parts = parts or [TopicPartition(t, p) for t, n in configured_topics() for p in range(n)]
    found: dict[str, dict[str, int]] = {}
    for group in groups:
        offsets = await admin.list_consumer_group_offsets(group, partitions=parts)
        totals = found.setdefault(group, {})
        for tp, meta in offsets.items():
            if meta is not None and meta.offset > 0:
                totals[tp.topic] = totals.get(tp.topic, 0) + meta.offset
    return found


def partitions(topic: str) -> int:
    return dict(configured_topics())[topic]


async def spy(pid: int, output: Path, seconds: float, hz: int) -> tuple[int, float]:
    """`py-spy record` one process; returns its exit code and the CPU seconds it used."""
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    args = ["record", "--pid", str(pid), "--format", "speedscope", "--output", str(output)]
    args += ["--rate", str(hz), "--duration", str(round(seconds)), "--idle", "--nonblocking"]
    proc = await asyncio.create_subprocess_exec(
        exe,
        *args,
        "--full-filenames",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    used = 0.0
    while proc.returncode is None:
        with contextlib.suppress(OSError, IndexError):
            used = cpu_seconds(proc.pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 0.5)
    if proc.returncode and proc.stderr is not None:
        sys.stderr.write((await proc.stderr.read()).decode(errors="replace"))
    return proc.returncode, used


@dataclass
class Window:
    """What happened while py-spy recorded: CPU per process, messages per topic."""

    seconds: float = 0.0
    cpu_percent: dict[str, float] = field(default_factory=dict)  # 100 = one core
    messages: dict[str, int] = field(default_factory=dict)  # topic -> records produced
    consumed: dict[str, dict[str, int]] = field(default_factory=dict)  # group -> topic -> records

    @property
    def runs_per_s(self) -> float:
        return self.messages.get("run.completed", 0) / self.seconds if self.seconds else 0.0


async def topic_ends(consumer: Any) -> dict[str, int]:
    """Records on each of the project's topics so far (the sum of its partitions' end offsets)."""
    parts = [TopicPartition(t, p) for t, n in configured_topics() for p in range(n)]
    ends: dict[TopicPartition, int] = await consumer.end_offsets(parts)
    totals: dict[str, int] = {}
    for tp, offset in ends.items():
        totals[tp.topic] = totals.get(tp.topic, 0) + offset
    return totals


def cpu_now(pids: dict[str, int]) -> dict[str, float]:
    found = {}
    for name, pid in pids.items():
        with contextlib.suppress(OSError, IndexError):
            found[name] = cpu_seconds(pid)
    return found


async def profiled_window(
    consumer: Any,
    admin: Any,
    pids: dict[str, int],
    services: dict[str, int],
    out: Path,
    seconds: float,
    hz: int,
    console: Console,
) -> Window:
    """`py-spy record` every service in `services` at once for `seconds` into
    `out/<service>.speedscope.json`; the window's CPU per process (of `pids`, py-spy's own
    added), records produced per topic and committed per consumer group (one per service)."""
    groups = list(services)
    read_before = await committed(admin, groups)
    before, cpu_before = await topic_ends(consumer), cpu_now(pids)
    began = time.perf_counter()
    done = await asyncio.gather(
        *(spy(pid, out / f"{name}.speedscope.json", seconds, hz) for name, pid in services.items())
    )
    took = time.perf_counter() - began
    after, cpu_after = await topic_ends(consumer), cpu_now(pids)
    read_after = await committed(admin, groups)
    window = Window(took)
    window.consumed = {
        group: {
            t: n - read_before.get(group, {}).get(t, 0)
            for t, n in topics.items()
            if n > read_before.get(group, {}).get(t, 0)
        }
        for group, topics in read_after.items()
    }
    window.messages = {t: n - before.get(t, 0) for t, n in after.items() if n > before.get(t, 0)}
    window.cpu_percent = {
        name: 100 * (cpu_after[name] - cpu_before[name]) / took
        for name in cpu_before
        if name in cpu_after
    }
    for name, (code, cpu) in zip(services, done, strict=True):
        window.cpu_percent[f"py-spy {name}"] = 100 * cpu / took
        if code:
            console.print(f"[red]py-spy on {name} exited with {code}[/red]")
    return window


async def profiled_load(
    bootstrap: str, pids: dict[str, int], args: argparse.Namespace, out: Path, console: Console
) -> tuple[LoadResult, Window]:
    services = {name: pid for name, pid in pids.items() if name in SERVICES}

    async def attach() -> Window:
        await first_deposit(bootstrap)
        await asyncio.sleep(args.warmup)  # first-use costs (imports compile: no .pyc here) out
        consumer: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        admin: Any = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await consumer.start()
        await admin.start()
        try:
            waited = await fanout_drained(consumer, admin, args.lead)
            console.print(f"model fan-out drained {waited:.0f} s after the warm-up; profiling")
            return await profiled_window(
                consumer, admin, pids, services, out, args.seconds, args.hz, console
            )
        finally:
            await consumer.stop()
            await admin.close()

    spies = asyncio.create_task(attach())
    result = await steady_deposits(
        bootstrap,
        round(args.rate * (args.warmup + args.lead + args.seconds)),
        args.rate,
        "run.completed",
        console,
        watch=pids,
    )
    return result, await spies


UNLIMITED_BROKER = {
    "REBAL_BROKER_REQUESTS_PER_MINUTE": "1000000000",
    "REBAL_BROKER_MAX_IN_FLIGHT": "64",
}
"""The order-router's rate limit (Alpaca's 200 requests/min by default) lifted: the profile is
of the software's ceiling, not of the limit's (`--broker-limits` keeps them). The in-flight cap
stays the embedded stack's: it is the only bound on the orders being sent at once, and the
keep-alive pool opens a connection per slot."""


def tree() -> dict[str, Any]:
    """Which code ran: the commit, and the files changed in the working tree (shared, and edited
    while benchmarks run)."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = [line for line in git("status", "--short").splitlines() if "/src/" in line]
    return {"commit": git("rev-parse", "HEAD"), "changed_sources": changed}


def run(args: argparse.Namespace, console: Console) -> Path:
    out = ROOT / "var" / "profile" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out.mkdir(parents=True)
    if not args.broker_limits:
        os.environ.update(UNLIMITED_BROKER)  # every service process inherits the driver's env
    code = tree()
    stack = start_stack(Path(tempfile.mkdtemp(prefix="bench-profile-")), only=SERVICES)
    broker = getattr(stack.kafka, "process", None)
    pids = {"broker (Tansu)": broker.pid if broker is not None else 0}
    pids |= {p.name: p.process.pid for p in stack.processes if p.process is not None}
    pids["this driver"] = os.getpid()
    try:
        bootstrap = stack.kafka.bootstrap_servers
        result, window = asyncio.run(profiled_load(bootstrap, pids, args, out, console))
        base = asyncio.run(measure(bootstrap, 600, 20_000))
    finally:
        stack.stop()
    summary = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "offered_per_s": args.rate,
        "sampling_hz": args.hz,
        "broker_limits": args.broker_limits,
        "tree": code,
        "warmup_s": args.warmup,
        "lead_s": args.lead,
        "load": {
            "sent": result.sent,
            "runs_completed": result.received,
            "runs_per_s": result.rate,
            "p50_ms": percentile(result.latencies_ms, 50),
            "p99_ms": percentile(result.latencies_ms, 99),
            "cpu_percent": result.cpu_percent,
        },
        "window": asdict(window),
        "baseline": asdict(base),
        "load_average": os.getloadavg(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    console.print(latency_table("the whole load, under py-spy", "runs", result, args.rate))
    return out


def report(out: Path, console: Console, inclusive: int = 0) -> None:
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
    base = Baseline(**summary["baseline"])
    window = Window(**summary["window"])
    results = [
        breakdown(name, out / f"{name}.speedscope.json")
        for name in SERVICES
        if (out / f"{name}.speedscope.json").exists()
    ]
    wall, cost = tables(results, window)
    console.print(wall)
    console.print(cost)
    load = summary.get("load")  # a model-change profile (bench/model_change) has no load
    facts = [
        f"in the {window.seconds:.0f} s profiled: {window.runs_per_s:.1f} runs/s completed"
        + (
            f"; offered {summary['offered_per_s']:.0f} first fundings/s (whole load: "
            f"{load['runs_completed']} of {load['sent']} runs, {load['runs_per_s']:.1f}/s, "
            f"p50 {load['p50_ms']:,.0f} ms, p99 {load['p99_ms']:,.0f} ms)"
            if load
            else ""
        ),
        base.line(),
        "CPU in the window (100% = one of the 2 cores): "
        + ", ".join(f"{k} {v:.0f}%" for k, v in window.cpu_percent.items()),
        "records produced per run in the window: "
        + ", ".join(
            f"{t} {n / max(1, window.messages.get('run.completed', 0)):.1f}"
            for t, n in sorted(window.messages.items(), key=lambda kv: -kv[1])
        ),
        f"load average at the end: {', '.join(f'{x:.1f}' for x in summary['load_average'])}",
    ]
    for group, topics in window.consumed.items():
        if not topics:
            continue
        facts.append(
            f"{group} read (committed) per second: "
            + ", ".join(
                f"{t} {n / window.seconds:.1f}"
                for t, n in sorted(topics.items(), key=lambda kv: -kv[1])
            )
        )
    if "tree" in summary:
        changed = summary["tree"]["changed_sources"]
        limits = "kept" if summary.get("broker_limits") else "lifted"
        facts.append(
            f"code: {summary['tree']['commit'][:10]} + {len(changed)} changed source files in the "
            f"working tree (summary.json lists them); the router's broker limits {limits}"
        )
    for line in facts:
        console.print(line)
    for b in results:
        console.print(hot(b))
        if inclusive:
            console.print(f"{b.service}: functions by the share of samples they are on")
            for name, seconds in top(b.inclusive, inclusive):
                console.print(f"  {100 * seconds / b.seconds:5.1f}%  {name}", highlight=False)
    (out / "breakdown.md").write_text(
        markdown(wall) + "\n" + markdown(cost) + "\n" + "\n".join(f"- {f}" for f in facts) + "\n"
    )
    console.print(f"profiles, summary.json and breakdown.md in {out}")


UNITS = {"optimizer": "optimization.ready"}
"""What one unit of a service's work is: the optimizer, ahead of the ceiling, plans more runs
than complete downstream, so its cost is per optimization.ready; the others' per run.completed."""


def tables(results: list[Breakdown], window: Window) -> tuple[Table, Table]:
    wall = Table(title="% of each service's event-loop wall time, by stage (py-spy samples)")
    cost = Table(title="CPU ms per unit of work, by stage (window CPU x the stage's busy samples)")
    for col in ("service", *STAGES):
        wall.add_column(col, justify="right")
    for col in ("process", "CPU %", "in/s", "ms/in", "unit", "ms/unit", *STAGES[:-1]):
        cost.add_column(col, justify="right")
    blank = [""] * (len(STAGES) - 1)
    none = ["", ""]

    def per_unit(cpu: float, unit: str) -> float:
        done = window.messages.get(unit, 0)
        return cpu / 100 * window.seconds * 1000 / done if done else float("nan")

    for b in results:
        wall.add_row(b.service, *(f"{100 * b.share(s):.0f}" for s in STAGES))
        cpu = window.cpu_percent.get(b.service, float("nan"))
        unit = UNITS.get(b.service, "run.completed")
        ms = per_unit(cpu, unit)
        busy = sum(v for k, v in b.stages.items() if k != "idle")
        split = [f"{ms * b.stages.get(s, 0.0) / busy:.2f}" for s in STAGES[:-1]] if busy else blank
        read = sum(window.consumed.get(b.service, {}).values())
        rate = read / window.seconds if window.seconds else 0.0
        # no group of its name (the simulator's price consumer): no per-message figure
        reads = [f"{rate:.0f}", f"{cpu / 100 * 1000 / rate:.2f}"] if rate else none
        cost.add_row(b.service, f"{cpu:.0f}", *reads, unit, f"{ms:.2f}", *split)
    profiled = {b.service for b in results}
    for name, cpu in window.cpu_percent.items():
        if name not in profiled:
            cost.add_row(
                name,
                f"{cpu:.0f}",
                *none,
                "run.completed",
                f"{per_unit(cpu, 'run.completed'):.2f}",
                *blank,
            )
    total = sum(window.cpu_percent.values())
    cost.add_row(
        "all",
        f"{total:.0f}",
        *none,
        "run.completed",
        f"{per_unit(total, 'run.completed'):.2f}",
        *blank,
    )
    return wall, cost


def hot(b: Breakdown, rows: int = 10) -> Table:
    table = Table(title=f"{b.service}: hottest (% of event-loop wall time)")
    for col in ("stage / innermost project function", "%", "stage / leaf function", "%"):
        table.add_column(col, justify="right" if col == "%" else "left")
    spots, leaves = top(b.spots, rows), top(b.self_time, rows)
    for i in range(rows):
        cells: list[str] = []
        for ranked in (spots, leaves):
            if i < len(ranked):
                (stage, name), seconds = ranked[i]
                cells += [f"{stage}: {name}", f"{100 * seconds / b.seconds:.1f}"]
            else:
                cells += ["", ""]
        table.add_row(*cells)
    return table


def markdown(table: Table) -> str:
    head = [str(c.header) for c in table.columns]
    rows = zip(*(list(c.cells) for c in table.columns), strict=True)
    lines = [f"{table.title}:", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--rate", type=float, default=80.0, help="first fundings offered per second"
    )
    parser.add_argument(
        "--seconds", type=float, default=30.0, help="profiled (and offered) seconds"
    )
    parser.add_argument(
        "--warmup", type=float, default=5.0, help="seconds of load before py-spy attaches"
    )
    parser.add_argument(
        "--lead",
        type=float,
        default=30.0,
        help="at most this long after the warm-up for the setup's model fan-out to drain "
        "(the load is offered for warm-up + lead + seconds)",
    )
    parser.add_argument(
        "--broker-limits",
        action="store_true",
        help="keep the order-router's broker request limits (default: lifted)",
    )
    parser.add_argument("--hz", type=int, default=50, help="py-spy samples per second")
    parser.add_argument(
        "--inclusive", type=int, default=0, help="also list each service's top N functions"
    )
    parser.add_argument("--analyze", type=Path, help="only re-read the profiles of an earlier run")
    args = parser.parse_args()
    console = Console(width=160)
    report(args.analyze or run(args, console), console, args.inclusive)


if __name__ == "__main__":
    main()
