"""Service layer over the real SQLite store, in process, with a hand-driven clock."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_broker_sim.bootstrap import Simulator, bootstrap
from rebal_broker_sim.domain.behaviour import BehaviourConfig, FillMode
from rebal_broker_sim.domain.orders import OrderRequest, OrderStatus, Side
from rebal_broker_sim.service_layer.errors import (
    DuplicateClientOrderId,
    InsufficientBuyingPower,
    OrderNotCancelable,
)
from rebal_runtime.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))


def make_simulator(
    db: Path, clock: FakeClock, behaviour: BehaviourConfig, id_prefix: str = "order"
) -> Simulator:
    ids = (f"{id_prefix}-{n}" for n in itertools.count(1))
    return bootstrap(db, behaviour, clock=clock, new_order_id=lambda: next(ids))


@pytest.fixture
async def started(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Simulator]:
    # The fill loop is not started: the tests call fill_due_orders themselves.
    simulator = make_simulator(tmp_path / "sim.sqlite", clock, BehaviourConfig())
    await simulator.store.open()
    yield simulator
    await simulator.store.close()


def buy(coid: str, symbol: str = "AAPL", qty: str | None = None, notional: str | None = None):
    return OrderRequest(
        "acct-1",
        coid,
        symbol,
        Side.BUY,
        Decimal(qty) if qty else None,
        Decimal(notional) if notional else None,
    )


async def test_delayed_fill_happens_when_due_and_not_before(
    started: Simulator, clock: FakeClock
) -> None:
    await started.price_book.set_price("AAPL", Decimal("200"))
    started.behaviour.update(fill_mode=FillMode.DELAYED, fill_delay_ms=500)
    result = await started.orders.submit_order(buy("c-1", qty="2"))
    assert result.order.status is OrderStatus.NEW

    clock.advance(timedelta(milliseconds=499))
    filled, next_due = await started.fills.fill_due_orders()
    assert filled == 0
    assert next_due == result.order.created_at + timedelta(milliseconds=500)

    clock.advance(timedelta(milliseconds=1))
    filled, next_due = await started.fills.fill_due_orders()
    assert filled == 1
    assert next_due is None
    order = await started.orders.get_order("acct-1", result.order.id)
    assert order.status is OrderStatus.FILLED
    assert order.filled_at == clock.now()


async def test_an_unpriced_symbol_waits_for_its_price_when_allowed(started: Simulator) -> None:
    started.behaviour.update(reject_unknown_symbols=False)
    result = await started.orders.submit_order(buy("c-1", symbol="NEWCO", notional="100"))
    assert result.order.status is OrderStatus.NEW
    assert (await started.fills.fill_due_orders())[0] == 0

    await started.price_book.set_price("NEWCO", Decimal("8"))
    assert (await started.fills.fill_due_orders())[0] == 1
    order = await started.orders.get_order_by_client_order_id("acct-1", "c-1")
    assert order.filled_qty == Decimal("12.5")


async def test_an_older_price_does_not_overwrite_a_newer_one(
    started: Simulator, clock: FakeClock
) -> None:
    await started.price_book.set_price("AAPL", Decimal("10"), as_of=clock.now())
    await started.price_book.set_price(
        "AAPL", Decimal("9"), as_of=clock.now() - timedelta(seconds=1)
    )
    quote = await started.price_book.get_quote("AAPL")
    assert quote is not None
    assert quote.price == Decimal("10")


async def test_trade_updates_are_numbered_in_commit_order(started: Simulator) -> None:
    await started.price_book.set_price("AAPL", Decimal("10"))
    for n in range(3):
        await started.orders.submit_order(buy(f"c-{n}", qty="1"))
    updates = await started.queries.trade_updates_after(0)
    assert [u.event for u in updates] == ["new", "fill"] * 3
    ids = [u.event_id for u in updates]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert [u.position_qty for u in updates if u.event == "fill"] == [
        Decimal(1),
        Decimal(2),
        Decimal(3),
    ]
    assert await started.queries.trade_updates_after(ids[2], until_id=ids[4]) == updates[3:5]


async def test_buying_power_and_cash_follow_fills(started: Simulator) -> None:
    await started.price_book.set_price("AAPL", Decimal("10"))
    await started.orders.set_cash({"acct-1": Decimal("100")})
    await started.orders.submit_order(buy("c-1", qty="6"))
    with pytest.raises(InsufficientBuyingPower):
        await started.orders.submit_order(buy("c-2", qty="5"))
    snapshot = await started.queries.admin_snapshot()
    assert snapshot.cash == {"acct-1": Decimal("40")}
    assert [r.outcome for r in snapshot.requests] == ["accepted", "insufficient_buying_power"]


async def test_duplicates_and_cancel_rules(started: Simulator) -> None:
    await started.price_book.set_price("AAPL", Decimal("10"))
    started.behaviour.update(fill_mode=FillMode.HOLD)
    held = (await started.orders.submit_order(buy("c-1", qty="1"))).order
    with pytest.raises(DuplicateClientOrderId):
        await started.orders.submit_order(buy("c-1", qty="1"))
    canceled = await started.orders.cancel_order("acct-1", held.id)
    assert canceled.status is OrderStatus.CANCELED
    with pytest.raises(OrderNotCancelable):
        await started.orders.cancel_order("acct-1", held.id)
    # a canceled order's client_order_id stays taken (Alpaca: unique forever)
    with pytest.raises(DuplicateClientOrderId):
        await started.orders.submit_order(buy("c-1", qty="1"))


async def test_state_survives_reopening_the_store(tmp_path: Path, clock: FakeClock) -> None:
    db = tmp_path / "reopen.sqlite"
    first = make_simulator(db, clock, BehaviourConfig())
    await first.store.open()
    await first.price_book.set_price("AAPL", Decimal("10"))
    order = (await first.orders.submit_order(buy("c-1", qty="1"))).order
    last_id = await first.queries.last_trade_update_id()
    await first.store.close()

    second = make_simulator(db, clock, BehaviourConfig(), id_prefix="second")
    await second.store.open()
    try:
        assert (await second.orders.get_order_by_client_order_id("acct-1", "c-1")).id == order.id
        await second.orders.submit_order(buy("c-2", qty="1"))
        assert min(u.event_id for u in await second.queries.trade_updates_after(last_id)) > last_id
    finally:
        await second.store.close()
