"""A dispatcher with `max_runs` works on that many runs at once, and takes the runs needing
dispatch in turn, from where its last round stopped: a run stored later with a lower id waits
for its turn instead of going first."""

from __future__ import annotations

import asyncio

import pytest

from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready

from .conftest import FakeBroker


async def store_runs(ctx: RouterContext, make_ready, *run_ids: str) -> None:
    for run_id in run_ids:
        await on_optimization_ready(ctx, make_ready(run_id=run_id, portfolio_id=f"pf-{run_id}"))


async def round_started(dispatcher: Dispatcher) -> list[str]:
    """One round; the runs it started, once they are done."""
    await dispatcher.dispatch_pending()
    started = sorted(dispatcher._runs)
    await asyncio.wait_for(asyncio.gather(*dispatcher._runs.values()), 10)
    return started


async def test_a_round_starts_no_more_runs_than_max_runs(
    ctx: RouterContext, broker: FakeBroker, make_ready
) -> None:
    gate = asyncio.Event()
    submit = broker.submit_order

    async def held_submit(*args, **kwargs):  # every send waits until the test opens the gate
        await gate.wait()
        return await submit(*args, **kwargs)

    broker.submit_order = held_submit  # type: ignore[method-assign]
    await store_runs(ctx, make_ready, *(f"opt-{i}" for i in range(5)))
    dispatcher = Dispatcher(ctx, max_runs=2)

    await dispatcher.dispatch_pending()
    await dispatcher.dispatch_pending()  # a second round finds no room
    assert sorted(dispatcher._runs) == ["opt-0", "opt-1"]

    gate.set()
    for _ in range(5):
        if not await ctx.runs.runs_needing_dispatch():
            break
        await round_started(dispatcher)
    assert await ctx.runs.runs_needing_dispatch() == []  # every run sent in the end
    assert len(broker.submits()) == len(set(broker.submits())) == 5 * 2


async def test_rounds_take_the_runs_in_turn_and_wrap_around(
    ctx: RouterContext, broker: FakeBroker, make_ready
) -> None:
    broker.mode["AAPL"] = "accept"  # the sells rest: each run waits for its sell afterwards
    await store_runs(ctx, make_ready, "opt-1", "opt-2", "opt-3", "opt-4")
    dispatcher = Dispatcher(ctx, max_runs=2)

    assert await round_started(dispatcher) == ["opt-1", "opt-2"]
    await store_runs(ctx, make_ready, "opt-0")  # stored later, first by id
    assert await round_started(dispatcher) == ["opt-3", "opt-4"]
    assert await round_started(dispatcher) == ["opt-0"]  # the lap goes on from the start


async def test_a_run_backing_off_is_skipped_and_the_next_one_started(
    ctx: RouterContext, broker: FakeBroker, make_ready
) -> None:
    await store_runs(ctx, make_ready, "opt-1", "opt-2")
    dispatcher = Dispatcher(ctx, max_runs=1)
    broker.down = 100  # the broker is down for opt-1's sell: the run backs off
    assert await round_started(dispatcher) == ["opt-1"]
    broker.down = 0

    assert await round_started(dispatcher) == ["opt-2"]
    assert await ctx.runs.runs_needing_dispatch() == ["opt-1"]  # retried after its backoff


def test_max_runs_must_be_positive(ctx: RouterContext) -> None:
    with pytest.raises(ValueError, match="max_runs"):
        Dispatcher(ctx, max_runs=0)
