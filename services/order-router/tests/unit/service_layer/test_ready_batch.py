"""optimization.ready in batches (the Kafka entry point): each run is stored as if it came
alone, and the kept cancels are read twice per batch (before and after storing), not per run."""

from __future__ import annotations

from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready_batch

from .test_cancel_requests import cancel_request, stops


def readies(make_ready, n: int):  # type: ignore[no-untyped-def]
    return [make_ready(run_id=f"opt-{i}", portfolio_id=f"pf-{i}") for i in range(1, n + 1)]


def count_cancel_reads(ctx) -> list[int]:  # type: ignore[no-untyped-def]
    reads = [0]
    read = ctx.runs.pending_cancels

    async def counted():  # type: ignore[no-untyped-def]
        reads[0] += 1
        return await read()

    ctx.runs.pending_cancels = counted
    return reads


async def test_a_batch_stores_every_run_reading_the_kept_cancels_twice(
    ctx, broker, make_ready, outbox
) -> None:
    reads = count_cancel_reads(ctx)

    created = await on_optimization_ready_batch(ctx, readies(make_ready, 5))

    assert created == [f"opt-{i}" for i in range(1, 6)]
    assert reads == [2]
    assert stops(outbox()) == []
    assert sorted(await ctx.runs.runs_needing_dispatch()) == sorted(created)
    # a redelivered batch stores nothing twice
    assert await on_optimization_ready_batch(ctx, readies(make_ready, 5)) == []


async def test_a_batch_of_runs_is_one_write_of_their_refs_and_one_of_the_runs(
    ctx, store, make_ready
) -> None:
    writes: list[tuple[str, int]] = []
    commit, commit_many, append_many = store.commit, store.commit_many, store.append_many

    async def counted_commit(c):  # type: ignore[no-untyped-def]
        writes.append(("commit", 1))
        return await commit(c)

    async def counted_commit_many(cs):  # type: ignore[no-untyped-def]
        writes.append(("commit_many", len(cs)))
        return await commit_many(cs)

    async def counted_append_many(collection, entries):  # type: ignore[no-untyped-def]
        writes.append(("append_many", len(entries)))
        return await append_many(collection, entries)

    store.commit, store.commit_many = counted_commit, counted_commit_many
    store.append_many = counted_append_many

    created = await on_optimization_ready_batch(ctx, readies(make_ready, 4))

    assert len(created) == 4
    orders = 0
    for run_id in created:
        stored = await ctx.runs.get(run_id)
        assert stored is not None
        orders += len(stored.run.orders)
    assert writes == [("append_many", orders), ("commit_many", 4)]


async def test_a_cancel_kept_before_the_batch_stops_its_run_only(
    ctx, broker, make_ready, outbox
) -> None:
    assert await on_cancel_requested(ctx, cancel_request("opt-2", "pf-2")) is False

    await on_optimization_ready_batch(ctx, readies(make_ready, 3))

    assert stops(outbox()) == [("opt-2", "canceled", "cancel-1")]
    assert await Dispatcher(ctx).dispatch_run("opt-2") is True
    assert broker.calls == []  # the canceled run sent nothing
    assert sorted(await ctx.runs.runs_needing_dispatch()) == ["opt-1", "opt-3"]


async def test_a_cancel_kept_while_the_batch_was_being_stored_still_stops_the_run(
    ctx, broker, make_ready, outbox
) -> None:
    """The batch read no kept cancel, then the cancel of one of its runs is kept (no run yet)
    while the batch is being stored: the read after the batch finds it."""
    create_many = ctx.runs.create_many

    async def cancel_arrives_in_between(runs):  # type: ignore[no-untyped-def]
        assert [stored.run.run_id for stored, _, _ in runs] == ["opt-1", "opt-2", "opt-3"]
        assert await on_cancel_requested(ctx, cancel_request("opt-3", "pf-3")) is False
        return await create_many(runs)

    ctx.runs.create_many = cancel_arrives_in_between
    await on_optimization_ready_batch(ctx, readies(make_ready, 3))
    ctx.runs.create_many = create_many

    assert stops(outbox()) == [("opt-3", "canceled", "cancel-1")]
    assert await Dispatcher(ctx).dispatch_run("opt-3") is True
    assert broker.calls == []
