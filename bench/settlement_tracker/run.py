"""Settlement-tracker CPU per run, in process: the real handlers over the real SqliteStore.

A stream of N runs (optimization.ready, run.execution_started, 3 order.filled each) is handed
to `SettlementHandlers.record_batch` in batches of up to 500 mixed events, in the order a busy
model change interleaves them (a run's facts arrive spread over later batches). The figure is
`time.process_time()` per run over the whole stream (this process only: the shared machine's
other load moves it least); decoding and the outbox relay are not in it. `digest` hashes the
outbox (topics, keys, values with the per-process random fields dropped) to compare branches.
`--tune-gc` tunes the garbage collector as `python -m rebal_settlement_tracker` does.
Usage: .venv/bin/python bench/settlement_tracker/run.py [--runs 2000] [--repeat 3] [--tune-gc]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import orjson

from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.clock import FakeClock
from rebal_runtime.log import configure_logging
from rebal_runtime.store.sqlite import SqliteStore
from rebal_schemas import (
    BrokerIntegration,
    Event,
    OptimizationReady,
    OrderFilled,
    OrderSide,
    PlannedOrder,
    RunExecutionStarted,
    RunType,
)
from rebal_settlement_tracker.adapters.run_document import refusal_repository, run_repository
from rebal_settlement_tracker.domain import SettlementCycles, SettlementPolicy
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers

XNYS = ExchangeCalendar("XNYS")
TRADE_DATE = date(2026, 3, 4)
START = datetime(2026, 3, 4, 15, tzinfo=UTC)
LEGS = (("AAPL", OrderSide.sell, "10", "200.50"), ("MSFT", OrderSide.buy, "4", "400.125"))
VTI = ("VTI", OrderSide.buy, "3.3333", "300.01")
BATCH = 500


def run_stream(index: int) -> list[tuple[int, Event]]:
    """One run's events, each with the tick it arrives at (later facts come later)."""
    run_id, portfolio_id = f"run-{index:06d}", f"pf-{index:06d}"
    at = START + timedelta(seconds=index)
    orders = (
        *(
            PlannedOrder(leg=i, symbol=s, side=side, qty=Decimal(q))
            for i, (s, side, q, _) in enumerate(LEGS)
        ),
        PlannedOrder(leg=2, symbol=VTI[0], side=VTI[1], notional=Decimal("1000.00")),
    )
    envelope = {"correlation_id": run_id, "occurred_at": at, "recorded_at": at}
    ready = OptimizationReady(
        event_id=f"ready-{index}",
        optimization_id=run_id,
        portfolio_id=portfolio_id,
        account_id="acct-bench",
        run_type=RunType.full_rebalance,
        broker_integration=BrokerIntegration.PLATFORM,
        orders=orders,
        producer="optimizer",
        **envelope,
    )
    started = RunExecutionStarted(
        event_id=f"started-{index}",
        run_id=run_id,
        portfolio_id=portfolio_id,
        started_at=at,
        producer="order-router",
        **envelope,
    )
    events: list[tuple[int, Event]] = [(index, ready), (index + 150, started)]
    for leg, (symbol, side, qty, price) in enumerate((*LEGS, VTI)):
        fill = OrderFilled(
            event_id=f"fill-{index}-{leg}",
            run_id=run_id,
            portfolio_id=portfolio_id,
            leg=leg,
            client_order_id=f"{run_id}-{leg}",
            symbol=symbol,
            side=side,
            filled_qty=Decimal(qty),
            filled_avg_price=Decimal(price),
            trade_date=TRADE_DATE,
            filled_at=at,
            status="filled",
            producer="order-router",
            **envelope,
        )
        events.append((index + 300 + 40 * leg, fill))
    return events


def batches(runs: int) -> list[list[Event]]:
    timed = [e for i in range(runs) for e in run_stream(i)]
    timed.sort(key=lambda t: t[0])  # stable: a run's own facts keep their order
    stream = [e for _, e in timed]
    return [stream[i : i + BATCH] for i in range(0, len(stream), BATCH)]


async def measure(runs: int, workdir: Path) -> tuple[float, str, int]:
    store = SqliteStore(workdir / "tracker.sqlite")
    await store.open()
    try:
        clock = FakeClock(START)
        policy = SettlementPolicy(
            XNYS, XNYS.timezone, SettlementCycles({}, 0), timedelta(days=1), timedelta(days=1)
        )
        handlers = SettlementHandlers(
            run_repository(store),
            clock,
            policy,
            producer="settlement-tracker",
            refusals=refusal_repository(store),
        )
        work = batches(runs)
        began = time.process_time()
        for batch in work:
            await handlers.record_batch(batch)  # type: ignore[arg-type]  # facts only
        cpu = time.process_time() - began
        return cpu, *await outbox_digest(store)
    finally:
        await store.close()


async def outbox_digest(store: SqliteStore) -> tuple[str, int]:
    digest, count = hashlib.sha256(), 0
    for pending in await store.pending_outbox(limit=10_000_000):
        message = pending.message
        value = orjson.loads(message.value)
        value.pop("recorded_at", None)
        digest.update(message.topic.encode() + message.key + orjson.dumps(value))
        count += 1
    return digest.hexdigest()[:16], count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--tune-gc", action="store_true", help="tune the collector as the service's main does"
    )
    args = parser.parse_args()
    configure_logging("WARNING")  # as the stacks the benchmarks start run it
    with tempfile.TemporaryDirectory() as workdir:
        asyncio.run(measure(50, Path(workdir)))  # warm-up: lazy imports, first-use caches
    if args.tune_gc:
        from rebal_runtime.gc_tuning import tune_gc

        tune_gc()
    figures = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as workdir:
            cpu, digest, published = asyncio.run(measure(args.runs, Path(workdir)))
        figures.append(cpu / args.runs * 1000)
        print(f"{cpu / args.runs * 1000:.3f} ms CPU/run  {published} published  digest {digest}")
    print(f"best {min(figures):.3f} ms CPU/run over {args.repeat} x {args.runs} runs")


if __name__ == "__main__":
    main()
