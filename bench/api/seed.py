"""Seeds the api's projection for `bench/api/run.py`: portfolios, runs and the runs' listing
written straight into the api's SQLite store (set-up, not measured), each document made by the
api's own mappers and index functions (`rebal_api.adapters`), the listing by
`rebal_api.domain.listing`, so what is read is what the api would have projected."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from rebal_api.adapters.documents import mapper, run_index
from rebal_api.adapters.run_listing import INDEX_VERSION, MARKER, RUN_LIST
from rebal_api.domain.ids import to_uuid
from rebal_api.domain.listing import listed_run
from rebal_api.domain.portfolio_book import BlockView, PortfolioView, SettingsView
from rebal_api.domain.views import OrderView, RunView, WeightView
from rebal_runtime.store.sqlite import SqliteStore

EPOCH = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
STATUSES = ["COMPLETED_SUCCESS"] * 90 + ["COMPLETED_ADJUSTED"] * 6 + ["ERROR"] * 3 + ["QUEUED"]
TYPES = ["full_rebalance", "invest_cash", "invest_cash", "partial_liquidation"]
BATCH = 50_000


def progress_bar(console: Console) -> Progress:
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
    with progress_bar(console) as bar:
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
    # the listing is written with this code's index values: no backfill on the api's start
    marker = orjson.dumps({"index": INDEX_VERSION})
    db.execute(insert_doc, (RUN_LIST, MARKER, marker))
    db.commit()
    db.close()
    console.print(
        f"seeded {portfolios:,} portfolios and {runs:,} runs in "
        f"{time.perf_counter() - started:.1f}s (set-up, not measured)"
    )


async def _create_schema(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.close()
