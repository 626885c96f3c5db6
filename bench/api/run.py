"""The api's reads at scale: `GET /v1/rebalancing/runs?status=...` and `GET /v1/portfolios/{id}`
requests per second and p50/p99 with 100,000 portfolios and 1,000,000 runs in its projection,
against `GET /health` on the same server in the same run (the baseline: HTTP, routing and the
event loop, no store); then the projection lag (a deposit acknowledged on Kafka -> the new cash
visible over HTTP) p50/p99 while the portfolio reads go on.

The projection is seeded straight into the api's SQLite store (set-up, not measured), each
document made by the api's own mappers and index functions (`rebal_api.adapters`), the runs'
listing by `rebal_api.domain.listing`; then the embedded stack starts Tansu and the api alone.

    .venv/bin/python bench/api/run.py [--portfolios 100000] [--runs 1000000] [--requests 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from http_load import Connection, Figures, measure
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from steady_load import start_stack

from rebal_api.adapters.documents import mapper, run_index
from rebal_api.domain.ids import to_uuid
from rebal_api.domain.listing import listed_run
from rebal_api.domain.portfolio_book import BlockView, PortfolioView, SettingsView
from rebal_api.domain.views import OrderView, RunView, WeightView
from rebal_client.kafka import Publisher
from rebal_runtime.store.sqlite import SqliteStore
from rebal_schemas import CashDeposited

EPOCH = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
STATUSES = ["COMPLETED_SUCCESS"] * 90 + ["COMPLETED_ADJUSTED"] * 6 + ["ERROR"] * 3 + ["QUEUED"]
TYPES = ["full_rebalance", "invest_cash", "invest_cash", "partial_liquidation"]
BATCH = 50_000


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _run(run_id: str, portfolio: str, status: str, kind: str, at: datetime) -> RunView:
    order = OrderView(0, "SPY", "buy", "filled", Decimal("1.2"), notional=Decimal("600.00"))
    weights = (WeightView("asset", "SPY", Decimal(60)), WeightView("cash", None, Decimal(40)))
    return RunView(
        run_id=run_id,
        uuid=to_uuid("run", run_id),
        portfolio_id=portfolio,
        account_id=f"acct-{portfolio}",
        model_id="balanced",
        type=kind,
        initiated_from="system",
        status=status,
        created_at=at,
        updated_at=at + timedelta(seconds=5),
        weights=weights,
        orders=(order,) if status.startswith("COMPLETED") else (),
    )


def _rows(runs: Iterator[RunView]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """documents and doc_index rows of runs and their listing."""
    to_state, docs, index = mapper(RunView).to_document, [], []
    for run in runs:
        docs.append(("runs", run.run_id, orjson.dumps(to_state(run))))
        index += [("runs", f, run.run_id, v) for f, v in run_index(run).items() if v is not None]
        listed = listed_run(run)
        docs.append(("run_list", listed.id, orjson.dumps({"v": 1})))
        index += [("run_list", f, listed.id, v) for f, v in listed.index().items() if v]
    return docs, index


def seed(path: Path, portfolios: int, runs: int, console: Console) -> None:
    asyncio.run(_create_schema(path))
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-2000000")  # 2 GB: the index B-trees stay in memory
    insert_doc = "INSERT INTO documents (collection, id, version, state, processed) VALUES (?, ?, 1, ?, '[]')"
    insert_index = "INSERT INTO doc_index (collection, field, id, value) VALUES (?, ?, ?, ?)"
    started = time.perf_counter()
    pick = random.Random(7)
    to_portfolio = mapper(PortfolioView).to_document
    with _progress(console) as bar:
        task = bar.add_task("seeding portfolios", total=portfolios)
        for first in range(0, portfolios, BATCH):
            docs = []
            for i in range(first, min(portfolios, first + BATCH)):
                pid = f"pf-{i:06d}"
                block = BlockView(f"R{i:07d}", "invest_cash", EPOCH) if i % 10 == 0 else None
                view = PortfolioView(
                    pid,
                    f"acct-{pid}",
                    SettingsView(model_id="balanced"),
                    EPOCH,
                    EPOCH,
                    cash=Decimal("1250.00"),
                    holdings={"SPY": Decimal("12.5"), "TLT": Decimal("30")},
                    block=block,
                    last_optimization_id=f"R{i:07d}",
                )
                docs.append(("portfolios", pid, orjson.dumps(to_portfolio(view))))
            db.executemany(insert_doc, docs)
            db.commit()
            bar.update(task, completed=min(portfolios, first + BATCH))
        task = bar.add_task("seeding runs and their listing", total=runs)
        for first in range(0, runs, BATCH):
            docs, index = _rows(
                _run(
                    f"R{i:07d}",
                    f"pf-{i % portfolios:06d}",
                    pick.choice(STATUSES),
                    pick.choice(TYPES),
                    EPOCH + timedelta(seconds=i),
                )
                for i in range(first, min(runs, first + BATCH))
            )
            db.executemany(insert_doc, docs)
            db.executemany(insert_index, index)
            db.commit()
            bar.update(task, completed=min(runs, first + BATCH))
    db.close()
    console.print(
        f"seeded {portfolios:,} portfolios and {runs:,} runs in "
        f"{time.perf_counter() - started:.1f}s (set-up, not measured)"
    )


async def _create_schema(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.close()


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


async def drive(stack: Any, args: argparse.Namespace, console: Console) -> list[Figures]:
    url, credentials = stack.api_url, (stack.api_key, stack.api_secret)
    pick = random.Random(11)
    ids = [f"pf-{pick.randrange(args.portfolios):06d}" for _ in range(args.requests + 200)]
    scenarios = [
        ("GET /health (baseline)", lambda i: "/health"),
        ("GET /v1/portfolios/{id}", lambda i: f"/v1/portfolios/{ids[i]}"),
        (
            "GET /v1/rebalancing/runs?status=ERROR&limit=10",
            lambda i: "/v1/rebalancing/runs?status=ERROR&limit=10",
        ),
        (
            "GET /v1/rebalancing/runs?status=COMPLETED_SUCCESS",
            lambda i: "/v1/rebalancing/runs?status=COMPLETED_SUCCESS",
        ),
    ]
    results = []
    with _progress(console) as bar:
        for name, path in scenarios:
            results.append(
                await measure(name, url, credentials, path, args.requests, args.concurrency, bar)
            )
        load = asyncio.create_task(
            measure(
                "GET /v1/portfolios/{id} during lag",
                url,
                credentials,
                lambda i: f"/v1/portfolios/{ids[i]}",
                args.requests,
                args.concurrency,
                bar,
            )
        )
        lags = await projection_lag(
            stack.kafka.bootstrap_servers, url, credentials, args.portfolios, args.lag_samples
        )
        results.append(await load)
    ordered = sorted(lags)
    console.print(
        f"projection lag (deposit acknowledged on Kafka -> cash visible over HTTP, under the "
        f"portfolio reads, {len(lags)} samples): p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, "
        f"p99 {ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000:.1f} ms, "
        f"max {ordered[-1] * 1000:.1f} ms"
    )
    return results


def report(results: list[Figures], console: Console) -> None:
    base = results[0].per_second
    table = Table(title="api reads (one uvicorn process; 2 shared cores with the load generator)")
    for column in ("request", "requests", "req/s", "p50 ms", "p99 ms", "bytes", "ratio to /health"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for f in results:
        table.add_row(
            f.name,
            f"{f.requests:,}",
            f"{f.per_second:,.0f}",
            f"{f.percentile(50) * 1000:.2f}",
            f"{f.percentile(99) * 1000:.2f}",
            f"{f.bytes_per_answer:,.0f}",
            f"{f.per_second / base:.2f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--portfolios", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=3000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=8, help="keep-alive connections")
    parser.add_argument("--lag-samples", type=int, default=200)
    args = parser.parse_args()
    console = Console(width=120)
    var = Path(tempfile.mkdtemp(prefix="bench-api-"))
    seed(var / "api.sqlite", args.portfolios, args.runs, console)
    stack = start_stack(var, only=("api",))
    try:
        results = asyncio.run(drive(stack, args, console))
    finally:
        stack.stop()
    report(results, console)
    size = (var / "api.sqlite").stat().st_size
    console.print(
        f"store: {args.portfolios:,} portfolios, {args.runs:,} runs, {size / 2**20:,.0f} MiB"
    )


if __name__ == "__main__":
    main()
