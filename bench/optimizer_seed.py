"""Set-up shared by the batch benchmarks: N funded, balanced portfolios subscribed to one of the
demo's models, written straight into the optimizer's SQLite store before it starts (not
measured), with the model itself, so that nothing is evaluated until the benchmark's own event."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
from rebal_demo.book import balanced_account
from rebal_demo.scenario import INITIAL_PRICES, MODELS_BY_ID
from rich.console import Console

from rebal_optimizer.adapters.portfolio_document import PortfolioRecord, record_to_document
from rebal_optimizer.adapters.reference_data import model_document
from rebal_optimizer.domain import (
    BrokerIntegration,
    Mandate,
    OptimizerMode,
    Portfolio,
    PortfolioSettings,
)
from rebal_optimizer.service_layer import inputs
from rebal_runtime.store.sqlite import SqliteStore

BATCH = 50_000


def portfolio_id(prefix: str, index: int) -> str:
    return f"{prefix}-{index:07d}"


def seed_portfolios(
    path: Path, count: int, console: Console, *, prefix: str, model_id: str = "balanced"
) -> None:
    """`count` PLATFORM / DISCRETIONARY portfolios holding model `model_id` at its weights
    (100,000 each at the demo's prices), ids `portfolio_id(prefix, i)`."""
    asyncio.run(_create_schema(path))
    model = MODELS_BY_ID[model_id]
    account = balanced_account(model, Decimal(100_000), INITIAL_PRICES)
    settings = PortfolioSettings(
        mandate=Mandate.DISCRETIONARY,
        broker_integration=BrokerIntegration.PLATFORM,
        optimizer=OptimizerMode.PLATFORM,
        model_id=model_id,
    )
    template = record_to_document(
        PortfolioRecord(
            Portfolio(
                "TEMPLATE",
                dict(account.holdings),
                account.cash,
                settings,
                funded=True,
                holdings_as_of=datetime(2026, 1, 2, tzinfo=UTC),
            ),
            "TEMPLATE",
        )
    )
    raw = orjson.dumps(template)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    started = time.perf_counter()
    for first in range(0, count, BATCH):
        ids = [portfolio_id(prefix, i) for i in range(first, min(count, first + BATCH))]
        db.executemany(
            "INSERT INTO documents (collection, id, version, state, processed) "
            "VALUES ('portfolios', ?, 1, ?, '[]')",
            [(pid, raw.replace(b"TEMPLATE", pid.encode())) for pid in ids],
        )
        db.executemany(
            "INSERT INTO doc_index (collection, field, id, value) "
            "VALUES ('portfolios', 'model_id', ?, ?)",
            [(pid, model_id) for pid in ids],
        )
        db.commit()
    # The model is known already: publishing it would make the optimizer re-evaluate every
    # subscriber (a model change) before the benchmark's own event.
    db.execute(
        "INSERT INTO documents (collection, id, version, state, processed) "
        "VALUES ('models', ?, 1, ?, '[]')",
        (model.model_id, orjson.dumps(model_document(inputs.model(model)))),
    )
    db.commit()
    db.close()
    console.print(
        f"seeded {count:,} portfolios in {time.perf_counter() - started:.1f}s (set-up, not measured)"
    )


async def _create_schema(path: Path) -> None:
    store = SqliteStore(path)
    await store.open()
    await store.close()
