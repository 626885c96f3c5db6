"""One model change for N subscribed portfolios (default 100,000), executed end to end on the
embedded stack with the execution window open: optimizer fan-out and evaluation, order-router,
broker simulator, settlement-tracker (T+0). Time from `model.updated` to the last `run.completed`,
runs/s and orders/s, the CPU each process used during the burst, with the raw broker rate
measured in the same run and the ratio. `--profile` also records every service with py-spy during
the burst (`profile.py`: var/profile/<UTC time>/, split into stages like the pipeline profile).

The portfolios are seeded straight into the optimizer's store (set-up, not measured): funded and
holding the 3-asset `growth` model at its weights (PLATFORM, DISCRETIONARY). The benchmark then
publishes `growth` with new weights (VTI 58 -> 48 %, QQQ 30 -> 35 %, GLD 10 -> 15 %): every
subscriber drifts 10 points beyond its 5-point band and rebalances, one sell and two buys.

    .venv/bin/python bench/model_change/run.py [--portfolios 100000] [--kafka tansu|apache]
        [--profile [--profile-after 5] [--profile-seconds 30] [--hz 50]]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from baseline import measure
from model_change.profile import BurstProfile
from model_change.timeline import Timeline
from optimizer_seed import seed_portfolios
from rebal_demo.scenario import INITIAL_PRICES, MODELS_BY_ID
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from steady_load import cpu_line, cpu_percent_since, cpu_times, stack_pids, start_stack

from rebal_client.kafka import Publisher
from rebal_runtime.stack import STACK_KAFKA_ENV
from rebal_schemas import PriceUpdated, RunCompleted, Weight
from rebal_schemas.types import utc_now

SERVICES = ("broker-simulator", "optimizer", "order-router", "settlement-tracker")
MODEL_ID = "growth"
NEW_WEIGHTS = {"VTI": "48", "QQQ": "35", "GLD": "15"}
PREFIX = "mc"
TARGET_MINUTES = 10.0


@dataclass(frozen=True)
class Outcome:
    seconds: float
    runs: int
    orders: int
    statuses: dict[str, int]
    cpu_percent: dict[str, float] = field(default_factory=dict)  # 100 = one core, whole burst


def changed_model() -> Any:
    model = MODELS_BY_ID[MODEL_ID]
    weights = tuple(
        w
        if w.symbol is None
        else Weight(type="asset", symbol=w.symbol, percent=Decimal(NEW_WEIGHTS[w.symbol]))
        for w in model.weights
    )
    return model.model_copy(update={"weights": weights, "producer": "bench"})


async def model_change(
    bootstrap: str,
    count: int,
    deadline: float,
    console: Console,
    pids: dict[str, int],
    during: Sequence[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = (),
) -> Outcome:
    """Publish the changed model and wait for every subscriber's run.completed; each of `during`
    runs beside the burst from the publish on (the profiler, the timeline), told when the burst
    is over and awaited."""
    reader: Any = AIOKafkaConsumer(
        RunCompleted.TOPIC,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await reader.start()
    async with Publisher(bootstrap) as publisher:
        await publisher.publish_many(
            PriceUpdated(symbol=s, price=p, as_of=utc_now(), producer="bench")
            for s, p in INITIAL_PRICES.items()
        )
        await asyncio.sleep(3)  # prices read by every service before the clock starts
        cpu_before = cpu_times(pids)
        start = time.perf_counter()
        await publisher.publish(changed_model())
    over = asyncio.Event()
    beside = [asyncio.create_task(work(over)) for work in during]
    done: set[bytes] = set()
    orders = 0
    statuses: dict[str, int] = {}
    last = start
    with Progress(
        TextColumn("model change"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs completed"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("runs", total=count)
        while len(done) < count and time.perf_counter() - start < deadline:
            batches = await reader.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    if record.key is None or record.key in done:
                        continue
                    if not record.key.startswith(PREFIX.encode()):
                        continue
                    done.add(record.key)
                    body = orjson.loads(record.value)
                    orders += len(body.get("orders", ())) + len(body.get("failed_orders", ()))
                    statuses[body["status"]] = statuses.get(body["status"], 0) + 1
                    last = time.perf_counter()
            bar.update(task, completed=len(done))
    cpu = cpu_percent_since(pids, cpu_before, time.perf_counter() - start)
    over.set()
    await reader.stop()
    await asyncio.gather(*beside)
    return Outcome(last - start, len(done), orders, statuses, cpu)


def report(outcome: Outcome, count: int, kafka: str, console: Console) -> float:
    runs_per_s = outcome.runs / outcome.seconds if outcome.seconds else 0.0
    table = Table(title=f"model change -> every subscriber rebalanced ({kafka}, T+0, window open)")
    for col in ("subscribers", "runs completed", "seconds", "runs/s", "orders/s", "statuses"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{count:,}",
        f"{outcome.runs:,}",
        f"{outcome.seconds:,.1f}",
        f"{runs_per_s:,.1f}",
        f"{outcome.orders / outcome.seconds if outcome.seconds else 0:,.1f}",
        ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.statuses.items())),
    )
    console.print(table)
    if outcome.runs < count:
        console.print(f"[red]only {outcome.runs:,} of {count:,} runs completed before the deadline")
    minutes = (100_000 / runs_per_s / 60) if runs_per_s else float("inf")
    scope = "measured" if count == 100_000 else "extrapolated at this rate"
    console.print(
        f"100,000 subscribers: {minutes:,.1f} minutes ({scope}; target < {TARGET_MINUTES:.0f})"
    )
    return runs_per_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=100_000)
    parser.add_argument("--kafka", choices=("tansu", "apache"), default="tansu")
    parser.add_argument("--deadline", type=float, default=3600.0, help="seconds")
    parser.add_argument("--profile", action="store_true", help="py-spy every service")
    parser.add_argument(
        "--profile-after", type=float, default=5.0, help="seconds after the publish py-spy starts"
    )
    parser.add_argument("--profile-seconds", type=float, default=30.0, help="py-spy duration")
    parser.add_argument("--hz", type=int, default=50, help="py-spy samples per second")
    parser.add_argument(
        "--timeline", action="store_true", help="print each stage's progress every 2 s"
    )
    args = parser.parse_args()
    os.environ[STACK_KAFKA_ENV] = args.kafka
    console = Console(width=120)
    var = Path(tempfile.mkdtemp(prefix="bench-model-change-"))
    seed_portfolios(
        var / "optimizer.sqlite", args.portfolios, console, prefix=PREFIX, model_id=MODEL_ID
    )
    stack = start_stack(var, only=SERVICES)
    pids = stack_pids(stack)
    try:
        bootstrap = stack.kafka.bootstrap_servers
        profile = BurstProfile(bootstrap, pids, SERVICES, args) if args.profile else None
        timeline = Timeline(bootstrap, pids) if args.timeline else None
        during = [w.record for w in (profile, timeline) if w is not None]
        outcome = asyncio.run(
            model_change(bootstrap, args.portfolios, args.deadline, console, pids, during)
        )
        base = asyncio.run(measure(bootstrap, 600, 20_000))
    finally:
        stack.stop()
    runs_per_s = report(outcome, args.portfolios, args.kafka, console)
    console.print(cpu_line(outcome, "the burst"))
    if timeline is not None:
        timeline.print(console)
    if profile is not None:
        profile.report(outcome.cpu_percent, base, console)
    console.print(base.line())
    # A run here is about 12 messages (request, optimization created/ready, 3 orders submitted
    # and filled, run created/status/completed/settled).
    console.print(
        f"ratio: runs/s / raw produce+consume msgs/s = {runs_per_s / base.produce_consume_per_s:.5f}"
    )


if __name__ == "__main__":
    main()
