"""Trade updates applied per run per stream batch: one store write for all of a run's updates,
in stream order per order, duplicates applied once, the same events as one by one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal

from rebal_order_router.adapters.run_store import RunStore
from rebal_order_router.domain import OrderStatus, StoredRun
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.ports import RunStep
from rebal_order_router.service_layer.trade_updates import (
    CURSOR,
    TradeUpdateFollower,
    handle_trade_updates,
)
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import InMemoryStore
from rebal_schemas import Event, OrderClosed, OrderFilled

from .conftest import T0, FakeBroker, published

SELLS = ((1, "AAPL", "sell", "10"), (2, "MSFT", "sell", "4"), (3, "VTI", "sell", "8"))


class CountingRuns(RunStore):
    """The run store, counting the writes of runs (each one commit)."""

    def __init__(self, store: InMemoryStore) -> None:
        super().__init__(store)
        self.updates: list[str] = []

        self.writes = 0  # store writes of runs: one per update, one per update_many

    async def update(self, run_id: str, step: RunStep) -> StoredRun | None:
        self.updates.append(run_id)
        self.writes += 1
        return await super().update(run_id, step)

    async def update_many(self, steps: Mapping[str, RunStep]) -> dict[str, StoredRun | None]:
        self.updates.extend(steps)
        self.writes += 1
        return await super().update_many(steps)


def order_events(events: list[Event]) -> list[tuple[str, str, Decimal, str]]:
    """What the order events say, without their recorded_at (the time they were derived)."""
    return [
        (e.event_id, e.client_order_id, e.filled_qty, e.status)
        for e in events
        if isinstance(e, OrderFilled | OrderClosed)
    ]


async def resting_sells(ctx: RouterContext, broker, make_ready, *run_ids: str) -> list[str]:
    """Runs of three sells each, sent and resting open at the broker; their client_order_ids."""
    for symbol in ("AAPL", "MSFT", "VTI"):
        broker.mode[symbol] = "accept"
    for run_id in run_ids:
        await on_optimization_ready(
            ctx, make_ready(run_id=run_id, orders=SELLS, portfolio_id=f"pf-{run_id}")
        )
        await Dispatcher(ctx).dispatch_run(run_id)
    return list(broker.orders)


async def test_a_batch_of_fills_of_one_run_is_one_store_write(
    ctx, store, broker, make_ready, outbox
) -> None:
    ctx.runs = runs = CountingRuns(store)
    coids = await resting_sells(ctx, broker, make_ready, "opt-1")
    for coid in coids:
        broker.fill(coid, Decimal(2))  # a partial fill of each, then the rest
    for coid in coids:
        broker.fill(coid, broker.orders[coid].qty - Decimal(2))  # type: ignore[operator]
    fills = broker.updates[-6:]
    runs.updates.clear()

    assert await handle_trade_updates(ctx, fills) == 6

    assert runs.updates == ["opt-1"]  # one commit for the six fills
    stored = await ctx.runs.get("opt-1")
    assert stored is not None
    assert all(o.status is OrderStatus.FILLED for o in stored.run.orders)
    published = [e for e in outbox() if isinstance(e, OrderFilled)]
    # per order in stream order: the partial first, then the final fill
    for coid in coids:
        assert [(f.filled_qty, f.status) for f in published if f.client_order_id == coid] == [
            (Decimal(2), "partially_filled"),
            (broker.orders[coid].qty, "filled"),
        ]


async def test_a_batch_of_fills_of_two_runs_is_one_store_write_of_both(
    ctx, store, broker, make_ready, outbox
) -> None:
    ctx.runs = runs = CountingRuns(store)
    first = await resting_sells(ctx, broker, make_ready, "opt-1")
    second = await resting_sells(ctx, broker, make_ready, "opt-2")
    sent = len(broker.updates)
    for coid in [*first, *second]:
        broker.fill(coid, broker.orders[coid].qty)  # type: ignore[arg-type]
    runs.updates.clear()
    runs.writes = 0

    assert await handle_trade_updates(ctx, broker.updates[sent:]) == len(first) + len(second)

    assert runs.writes == 1
    assert sorted(runs.updates) == ["opt-1", "opt-2"]
    for run_id in ("opt-1", "opt-2"):
        stored = await ctx.runs.get(run_id)
        assert stored is not None
        assert all(o.status is OrderStatus.FILLED for o in stored.run.orders)
    filled = {e.client_order_id for e in outbox() if isinstance(e, OrderFilled)}
    assert filled == {*first, *second}


async def test_a_batch_publishes_what_one_update_at_a_time_did(ctx, make_ready) -> None:
    async def history(batched: bool) -> list[tuple[str, str, Decimal, str]]:
        clock = FakeClock(T0)
        store, broker = InMemoryStore(), FakeBroker(clock)
        run_ctx = replace(ctx, runs=RunStore(store), broker=broker, clock=clock)
        coids = await resting_sells(run_ctx, broker, make_ready, "opt-1")
        sent = len(broker.updates)
        broker.fill(coids[0], Decimal(4))
        broker.fill(coids[1], Decimal(4))
        broker.expire(coids[0])
        broker.fill(coids[1], Decimal(0), Decimal(1))  # a repeat of the cumulative quantity
        broker.fill(coids[2], Decimal(8))
        updates = broker.updates[sent:]
        for batch in [updates] if batched else [[u] for u in updates]:
            await handle_trade_updates(run_ctx, batch)
        return order_events(published(store))

    batched = await history(batched=True)
    assert len(batched) == 4  # two partials, the close of the first, the third's fill
    assert batched == await history(batched=False)


async def test_a_duplicate_in_a_batch_and_a_replayed_batch_apply_once(
    ctx, store, broker, make_ready, outbox
) -> None:
    ctx.runs = runs = CountingRuns(store)
    coids = await resting_sells(ctx, broker, make_ready, "opt-1")
    broker.fill(coids[0], Decimal(10))
    fill = broker.updates[-1]
    before = order_events(outbox())

    await handle_trade_updates(ctx, [fill, fill])  # the same update twice in one batch
    once = order_events(outbox())
    stored_once = await ctx.runs.get("opt-1")
    await handle_trade_updates(ctx, [fill, replace(fill, event_id="99")])  # replayed

    assert once == order_events(outbox())
    assert len(once) - len(before) == 1
    assert await ctx.runs.get("opt-1") == stored_once
    assert runs.updates[-2:] == ["opt-1", "opt-1"]  # one write per batch, the second a no-op


async def test_a_batch_over_two_runs_is_one_write_per_run(
    ctx, store, broker, make_ready, outbox
) -> None:
    ctx.runs = runs = CountingRuns(store)
    coids = await resting_sells(ctx, broker, make_ready, "opt-1", "opt-2")
    for coid in coids:  # interleaved: opt-1's, then opt-2's orders
        broker.fill(coid, broker.orders[coid].qty)  # type: ignore[arg-type]
    fills = broker.updates[-6:]
    runs.updates.clear()

    assert await handle_trade_updates(ctx, [*fills[::2], *fills[1::2]]) == 6

    assert sorted(runs.updates) == ["opt-1", "opt-2"]
    for run_id in ("opt-1", "opt-2"):
        stored = await ctx.runs.get(run_id)
        assert stored is not None
        assert all(o.status is OrderStatus.FILLED for o in stored.run.orders)


async def test_the_follower_applies_each_stream_batch_at_once(
    ctx, store, broker, make_ready
) -> None:
    ctx.runs = runs = CountingRuns(store)
    coids = await resting_sells(ctx, broker, make_ready, "opt-1")
    follower = TradeUpdateFollower(ctx)
    assert await follower.follow_once() == 3  # the three "new" events, one batch
    for coid in coids:
        broker.fill(coid, broker.orders[coid].qty)  # type: ignore[arg-type]
    runs.updates.clear()

    assert await follower.follow_once() == 3

    assert runs.updates == ["opt-1"]
    assert await ctx.runs.load_cursor(CURSOR) == broker.updates[-1].event_id
