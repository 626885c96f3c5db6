"""Two router instances sharing one store: the run's store lease lets one of them send,
cancel or reconcile a run at a time; the other skips it (no backoff) and takes it over once the
lease is released or, after a crash, has expired."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from rebal_order_router.adapters.run_store import RunStore
from rebal_order_router.domain import OrderStatus
from rebal_order_router.service_layer.cancel import cancel_run
from rebal_order_router.service_layer.context import RouterContext, RunBusy, run_lease_name
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_runtime.store import InMemoryStore, StoreUnavailable

LEASE = 0.3  # seconds: short, so expiry and renewal happen within a test


def instance(ctx: RouterContext, owner: str, lease_seconds: float = LEASE) -> RouterContext:
    """Another router process on the same store and broker."""
    return RouterContext(
        runs=RunStore(ctx.runs.store),
        broker=ctx.broker,
        producer=ctx.producer,
        clock=ctx.clock,
        retry_policy=ctx.retry_policy,
        owner=owner,
        run_lease_seconds=lease_seconds,
    )


@pytest.fixture
def one(ctx: RouterContext) -> RouterContext:
    return instance(ctx, "router-1")


@pytest.fixture
def two(ctx: RouterContext) -> RouterContext:
    return instance(ctx, "router-2")


def slow_submits(broker: Any, seconds: float) -> asyncio.Event:
    """Every submit waits `seconds` before it reaches the broker (a request in transit); the
    returned event is set when the first one started."""
    started = asyncio.Event()
    original = broker.submit_order

    async def submit(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await asyncio.sleep(seconds)
        return await original(*args, **kwargs)

    broker.submit_order = submit
    return started


async def test_the_twin_skips_a_run_while_one_instance_sends_it_and_sends_nothing_after(
    one, two, broker, make_ready
) -> None:
    await on_optimization_ready(one, make_ready())
    started = slow_submits(broker, 3 * LEASE)  # longer than the lease: it must be renewed
    first = Dispatcher(one)
    sending = asyncio.create_task(first.dispatch_run("opt-1"))
    await started.wait()

    # the twin was woken too (the fill of the last sell, or its needs_dispatch poll)
    with pytest.raises(RunBusy):
        await Dispatcher(two).dispatch_run("opt-1")
    await asyncio.sleep(2 * LEASE)
    with pytest.raises(RunBusy):  # still held: renewed while the send lasts
        await Dispatcher(two).dispatch_run("opt-1")

    assert await sending is True
    assert one.locks.is_busy("opt-1") is False
    broker.calls.clear()
    assert await Dispatcher(two).dispatch_run("opt-1") is True  # released: taken at once
    assert broker.calls == []  # read what the first one recorded: nothing to send or look up
    assert len(broker.submits()) == 0 and len(broker.orders) == 2
    stored = await one.runs.get("opt-1")
    assert stored is not None and stored.run.is_complete


async def test_a_skipped_run_is_not_backed_off(one, two, make_ready) -> None:
    await on_optimization_ready(one, make_ready())
    assert await one.runs.store.acquire_lease(run_lease_name("opt-1"), "router-1", 30)
    dispatcher = Dispatcher(two, poll_seconds=0.01)
    await dispatcher.dispatch_pending()
    await asyncio.gather(*dispatcher._runs.values())
    assert dispatcher.skipped == 1
    assert dispatcher._failures == {} and dispatcher._not_before == {}  # the next poll retries


async def test_a_crashed_holders_lease_expires_and_the_twin_takes_the_run_over(
    two, broker, make_ready
) -> None:
    await on_optimization_ready(two, make_ready())
    store = two.runs.store
    # router-1 took the lease and was SIGKILLed: nobody renews or releases it
    assert await store.acquire_lease(run_lease_name("opt-1"), "router-1", LEASE)
    dispatcher = Dispatcher(two, poll_seconds=0.02)
    await dispatcher.start()
    try:
        await asyncio.sleep(LEASE / 2)
        assert broker.submits() == [] and dispatcher.skipped >= 1
        for _ in range(200):
            stored = await two.runs.get("opt-1")
            if stored is not None and stored.run.is_complete:
                break
            await asyncio.sleep(0.01)
    finally:
        await dispatcher.stop()
    assert stored is not None and stored.run.is_complete
    assert len(broker.submits()) == 2  # each order once
    assert await store.acquire_lease(run_lease_name("opt-1"), "router-3", 30)  # released


async def test_a_holder_that_lost_its_lease_sends_nothing_more(
    one, two, broker, make_ready
) -> None:
    """router-1 cannot renew (its store calls fail) while its sell is in transit: once the lease
    has run out it records the answer it got but sends no buy; router-2 does, once."""
    await on_optimization_ready(one, make_ready())
    slow_submits(broker, 2 * LEASE)
    store = one.runs.store
    assert isinstance(store, InMemoryStore)
    acquire = store.acquire_lease
    calls = 0

    async def renewals_fail(name: str, owner: str, seconds: float, **kw: Any) -> bool:
        nonlocal calls
        if owner == "router-1":
            calls += 1
            if calls > 1:
                raise StoreUnavailable("injected")
        return await acquire(name, owner, seconds, **kw)

    store.acquire_lease = renewals_fail  # type: ignore[method-assign]
    with pytest.raises(RunBusy):
        await Dispatcher(one).dispatch_run("opt-1")
    stored = await one.runs.get("opt-1")
    assert stored is not None
    assert {o.symbol: o.status for o in stored.run.orders} == {
        "AAPL": OrderStatus.FILLED,  # the sell's answer was recorded
        "MSFT": OrderStatus.PENDING_SUBMIT,  # the buy was left alone
    }
    assert len(broker.submits()) == 1

    assert await Dispatcher(two).dispatch_run("opt-1") is True  # expired: router-2 takes over
    assert len(broker.submits()) == 2 and len(set(broker.submits())) == 2


async def test_reconcile_and_cancel_leave_a_run_held_elsewhere_alone(
    one, two, broker, make_ready
) -> None:
    broker.mode["AAPL"] = "accept"  # the sell rests open at the broker
    await on_optimization_ready(one, make_ready())
    assert await Dispatcher(one).dispatch_run("opt-1") is True
    async with one.locks.hold("opt-1"):
        broker.calls.clear()
        assert await reconcile_all(two) == 0  # skipped, not an error
        with pytest.raises(RunBusy):
            await cancel_run(two, "opt-1")
        assert broker.calls == []
    assert await reconcile_all(two) == 1  # released: the next round looks the sell up
    stored = await cancel_run(two, "opt-1")
    assert stored is not None and stored.run.is_canceled
    assert stored.run.order(stored.run.orders[0].client_order_id).filled_qty == Decimal(0)
