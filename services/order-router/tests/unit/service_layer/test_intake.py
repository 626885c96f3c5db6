"""optimization.ready -> a stored run with every intent, before anything is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal_order_router.adapters.run_documents import COLLECTION
from rebal_order_router.domain import OrderStatus, client_order_id
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_schemas import BrokerIntegration, OptimizationReady, PoisonMessage


async def test_platform_run_is_stored_with_every_intent_before_anything_is_sent(
    ctx, store, broker, make_ready
) -> None:
    woken: list[bool] = []
    ctx.wake_dispatcher = lambda: woken.append(True)
    event = make_ready("opt-7", ((1, "AAPL", "sell", "5"), (2, "MSFT", "buy", "$800.50")))

    assert await on_optimization_ready(ctx, event) is True

    assert broker.calls == []  # stored, not sent
    stored = await ctx.runs.get("opt-7")
    assert stored is not None
    run = stored.run
    assert (run.portfolio_id, run.account_id) == ("pf-1", "acct-1")
    assert [(o.symbol, o.side.value, o.status) for o in run.orders] == [
        ("AAPL", "sell", OrderStatus.PENDING_SUBMIT),
        ("MSFT", "buy", OrderStatus.PENDING_SUBMIT),
    ]
    assert run.orders[0].qty == Decimal("5") and run.orders[0].notional is None
    assert run.orders[1].notional == Decimal("800.50") and run.orders[1].qty is None
    for order in run.orders:
        assert order.client_order_id == client_order_id("opt-7", order.leg)
        assert await ctx.runs.run_of(order.client_order_id) == "opt-7"
    assert sorted(stored.meta.schema_legs.values()) == [1, 2]
    assert stored.meta.schema_legs[run.orders[1].client_order_id] == 2
    assert stored.meta.ready_event_id == event.event_id
    assert stored.meta.attempted == frozenset()
    assert await ctx.runs.runs_needing_dispatch() == ["opt-7"]
    assert await ctx.runs.open_runs() == ["opt-7"]
    assert woken == [True]


async def test_client_integrated_run_is_ignored(ctx, store, make_ready) -> None:
    event = make_ready("opt-c", integration=BrokerIntegration.CLIENT)
    assert await on_optimization_ready(ctx, event) is False
    assert await store.load(COLLECTION, "opt-c") is None
    assert await ctx.runs.runs_needing_dispatch() == []


async def test_redelivered_ready_event_changes_nothing(ctx, store, make_ready) -> None:
    event = make_ready("opt-2")
    assert await on_optimization_ready(ctx, event) is True
    before = await store.load(COLLECTION, "opt-2")

    assert await on_optimization_ready(ctx, event) is False
    redelivered = await store.load(COLLECTION, "opt-2")
    assert before is not None and redelivered is not None
    assert redelivered.version == before.version  # the inbox skipped it without a write

    # the same run announced again under a new event id is not a second run either
    again = make_ready("opt-2", ((1, "AAPL", "sell", "9"),))
    assert await on_optimization_ready(ctx, again) is False
    after = await store.load(COLLECTION, "opt-2")
    assert after is not None
    assert after.state == before.state


async def test_run_without_orders_stores_nothing(ctx, store, make_ready) -> None:
    assert await on_optimization_ready(ctx, make_ready("opt-e", orders=())) is False
    assert await store.load(COLLECTION, "opt-e") is None


async def test_ready_event_that_cannot_be_planned_is_poison(ctx, make_ready) -> None:
    valid = make_ready("opt-bad", ((1, "AAPL", "sell", "1"), (2, "MSFT", "buy", "1")))
    # duplicate legs slip past validation only through model_construct (e.g. a buggy upcaster)
    broken = OptimizationReady.model_construct(
        **{**dict(valid), "orders": (valid.orders[0], valid.orders[0])}
    )
    with pytest.raises(PoisonMessage, match="opt-bad"):
        await on_optimization_ready(ctx, broken)
