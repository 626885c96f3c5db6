"""The api's reads at scale: `GET /v1/portfolios/{id}` and `GET /v1/rebalancing/runs?status=...`
with 100,000 portfolios and 1,000,000 runs in its projection, against `GET /health` on the same
server in the same run (the baseline: HTTP, routing and the event loop, no store); then the
projection lag (a deposit acknowledged on Kafka -> the new cash visible over HTTP) p50/p99 while
the portfolio reads go on.

Each read is measured twice (`http_load`): closed loop over `--concurrency` connections, the
most it answers per second (its ratio to /health's: what the read costs beyond HTTP), and open
loop at each fixed offered rate of `--rates` (default 100 and 200/s) for `--seconds`, the
latency a client sees at that load, without the wait behind the load generator's other
connections that a closed loop's latency includes. A rate above 80% of what the closed loop
answered is not offered (the latency of an overloaded server only says it is overloaded). The
api process's CPU time per request (closed loop, /proc) is the figure least moved by whatever
else the shared machine runs.

The projection is seeded straight into the api's SQLite store (`seed.py`, set-up, not
measured); then the embedded stack starts Tansu and the api alone.

    .venv/bin/python bench/api/run.py [--portfolios 100000] [--runs 1000000] [--requests 3000]
        [--rates 100,200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.seed import progress_bar, seed
from http_load import WARMUP, Connection, Figures, Overloaded, measure, measure_rate, percentile
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from steady_load import cpu_seconds, start_stack

from rebal_client.kafka import Publisher
from rebal_schemas import CashDeposited

CAPACITY_SHARE = 0.8  # the highest share of the closed-loop rate offered open loop
Scenario = tuple[str, Callable[[int], str]]


async def projection_lag(
    bootstrap: str, url: str, credentials: tuple[str, str], portfolios: int, samples: int
) -> list[float]:
    """A deposit on a portfolio nobody else touches, acknowledged on Kafka, until `GET` shows
    its cash (polled every 2 ms): one sample at a time."""
    connection = await Connection(url, *credentials).open()
    lags: list[float] = []
    async with Publisher(bootstrap) as publisher:
        for i in range(samples):
            pid = f"pf-{(portfolios - 1 - i) % portfolios:06d}"
            _, before = await connection.get(f"/v1/portfolios/{pid}")
            cash = Decimal(orjson.loads(before)["cash"])
            deposit = CashDeposited(
                portfolio_id=pid, amount=Decimal("1.00"), deposit_id=uuid.uuid4().hex
            )
            await publisher.publish(deposit)
            on_kafka = time.perf_counter()
            async with asyncio.timeout(30):  # never seen: the api is not consuming
                while True:
                    _, body = await connection.get(f"/v1/portfolios/{pid}")
                    if Decimal(orjson.loads(body)["cash"]) > cash:
                        break
                    await asyncio.sleep(0.002)
            lags.append(time.perf_counter() - on_kafka)
    await connection.close()
    return lags


def scenarios(portfolios: int, count: int) -> list[Scenario]:
    pick = random.Random(11)
    ids = [f"pf-{pick.randrange(portfolios):06d}" for _ in range(count)]
    errors = "/v1/rebalancing/runs?status=ERROR&limit=10"
    successes = "/v1/rebalancing/runs?status=COMPLETED_SUCCESS"
    return [
        ("GET /health (baseline)", lambda i: "/health"),
        ("GET /v1/portfolios/{id}", lambda i: f"/v1/portfolios/{ids[i]}"),
        ("GET " + errors.removeprefix("/v1/rebalancing"), lambda i: errors),
        ("GET " + successes.removeprefix("/v1/rebalancing"), lambda i: successes),
    ]


async def fixed_rates(
    scenario: Scenario, stack: Any, args: argparse.Namespace, most: float, bar: Progress
) -> list[Figures | float]:
    """The open-loop figures at each rate; the rate alone where it is not offered (too high)."""
    name, path = scenario
    credentials = (stack.api_key, stack.api_secret)
    found: list[Figures | float] = []
    for rate in args.rates:
        if rate > CAPACITY_SHARE * most:
            found.append(rate)
            continue
        try:
            found.append(
                await measure_rate(
                    name, stack.api_url, credentials, path, rate, int(rate * args.seconds), bar
                )
            )
        except Overloaded:
            found.append(rate)
    return found


Results = tuple[list[Figures], list[list[Figures | float]], dict[str, float]]


async def drive(stack: Any, args: argparse.Namespace, console: Console) -> Results:
    url, credentials = stack.api_url, (stack.api_key, stack.api_secret)
    count = max(args.requests, int(max(args.rates, default=0) * args.seconds)) + 200
    closed: list[Figures] = []
    opened: list[list[Figures | float]] = []
    cpu: dict[str, float] = {}  # the api process's CPU seconds per request, closed loop
    pid = stack.process("api").process.pid
    with progress_bar(console) as bar:
        for scenario in scenarios(args.portfolios, count):
            name, path = scenario
            used = cpu_seconds(pid)
            closed.append(
                await measure(name, url, credentials, path, args.requests, args.concurrency, bar)
            )
            cpu[name] = (cpu_seconds(pid) - used) / (args.requests + WARMUP)
            opened.append(await fixed_rates(scenario, stack, args, closed[-1].per_second, bar))
        portfolio = scenarios(args.portfolios, count)[1][1]
        load = asyncio.create_task(
            measure(
                "GET /v1/portfolios/{id} during lag",
                url,
                credentials,
                portfolio,
                args.requests,
                args.concurrency,
                bar,
            )
        )
        lags = await projection_lag(
            stack.kafka.bootstrap_servers, url, credentials, args.portfolios, args.lag_samples
        )
        closed.append(await load)
    console.print(
        f"projection lag (deposit acknowledged on Kafka -> cash visible over HTTP, under the "
        f"portfolio reads, {len(lags)} samples): p50 {percentile(lags, 50) * 1000:.1f} ms, "
        f"p99 {percentile(lags, 99) * 1000:.1f} ms, max {max(lags) * 1000:.1f} ms"
    )
    return closed, opened, cpu


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def report(results: Results, concurrency: int, console: Console) -> None:
    closed, opened, cpu = results
    base = closed[0].per_second
    table = Table(
        title=f"most answered: closed loop, {concurrency} connections (one uvicorn process; "
        "2 shared cores with the load generator); p50/p99 include the queue of the connections"
    )
    columns = ("request", "requests", "req/s", "ratio to /health", "p50 ms", "p99 ms", "bytes")
    for column in (*columns, "api CPU µs/req"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for f in closed:
        table.add_row(
            f.name,
            f"{f.requests:,}",
            f"{f.per_second:,.0f}",
            f"{f.per_second / base:.2f}",
            _ms(f.percentile(50)),
            _ms(f.percentile(99)),
            f"{f.bytes_per_answer:,.0f}",
            f"{cpu[f.name] * 1e6:,.0f}" if f.name in cpu else "",
        )
    console.print(table)
    table = Table(
        title="latency at a fixed offered rate: open loop, write -> answer read; "
        "'late p99': how far behind schedule the load generator sent"
    )
    rates = ("request", "offered/s", "answered/s", "p50 ms", "p99 ms", "max ms")
    for column in (*rates, "p99 / /health's", "late p99 ms", "conns"):
        table.add_column(column, justify="left" if column == "request" else "right")
    health = {f.offered: f for f in opened[0] if isinstance(f, Figures)}
    for (name, _), figures in zip(scenarios(1, 1), opened, strict=True):
        for at in figures:
            if not isinstance(at, Figures):
                table.add_row(name, f"{at:g}", f"over {CAPACITY_SHARE:.0%} of the closed loop's")
                continue
            same = health.get(at.offered)
            ratio = at.percentile(99) / same.percentile(99) if same else float("nan")
            table.add_row(
                name,
                f"{at.offered:g}",
                f"{at.per_second:,.0f}",
                _ms(at.percentile(50)),
                _ms(at.percentile(99)),
                _ms(max(at.latencies)),
                f"{ratio:.2f}",
                _ms(percentile(at.lateness, 99)),
                str(at.connections),
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000, help="per closed-loop scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(r) for r in text.split(",") if r],
        default=[100.0, 200.0],
        help="open-loop offered rates per second, comma-separated",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per open-loop rate")
    parser.add_argument("--lag-samples", type=int, default=200)
    args = parser.parse_args()
    console = Console(width=140)
    var = Path(tempfile.mkdtemp(prefix="bench-api-"))
    seed(var / "api.sqlite", args.portfolios, args.runs, console)
    stack = start_stack(var, only=("api",))
    try:
        results = asyncio.run(drive(stack, args, console))
    finally:
        stack.stop()
    report(results, args.concurrency, console)
    size = (var / "api.sqlite").stat().st_size
    console.print(
        f"store: {args.portfolios:,} portfolios, {args.runs:,} runs, {size / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
