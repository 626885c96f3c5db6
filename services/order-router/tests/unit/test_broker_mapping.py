"""Alpaca order snapshots and trade events -> domain OrderEvents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_order_router.domain import (
    BrokerOrder,
    OrderEventKind,
    TradeUpdate,
    event_from_broker_order,
    event_from_trade_update,
)

K = OrderEventKind
T0 = datetime(2024, 7, 1, 14, 0, tzinfo=UTC)
OBSERVED = T0 + timedelta(hours=1)


def snapshot(status: str, filled: str = "0", price: str | None = None, **kw: object) -> BrokerOrder:
    return BrokerOrder(
        id="B1",
        client_order_id="rebal-run1-0",
        symbol="AAPL",
        side="buy",
        status=status,
        qty=Decimal(10),
        filled_qty=Decimal(filled),
        filled_avg_price=Decimal(price) if price else None,
        updated_at=T0,
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("status", "filled", "kind"),
    [
        ("pending_new", "0", K.ACCEPTED),
        ("accepted", "0", K.ACCEPTED),
        ("new", "0", K.ACCEPTED),
        ("done_for_day", "0", K.ACCEPTED),
        ("new", "4", K.PARTIALLY_FILLED),  # an open order with fills has partially filled
        ("partially_filled", "4", K.PARTIALLY_FILLED),
        ("pending_cancel", "4", K.PARTIALLY_FILLED),
        ("filled", "10", K.FILLED),
        ("canceled", "4", K.CANCELED),
        ("expired", "0", K.EXPIRED),
        ("rejected", "0", K.REJECTED),
        ("FILLED", "10", K.FILLED),
    ],
)
def test_snapshot_status_maps_to_event(status: str, filled: str, kind: OrderEventKind) -> None:
    event = event_from_broker_order(
        snapshot(status, filled, "100" if filled != "0" else None), OBSERVED
    )
    assert event is not None
    assert event.kind is kind
    assert event.broker_order_id == "B1"
    assert event.filled_qty == Decimal(filled)


@pytest.mark.parametrize("status", ["replaced", "pending_replace", "something_new"])
def test_unexpected_snapshot_status_is_not_guessed(status: str) -> None:
    assert event_from_broker_order(snapshot(status), OBSERVED) is None


def test_snapshot_time_prefers_the_status_timestamp() -> None:
    filled_at = T0 + timedelta(minutes=3)
    filled = snapshot("filled", "10", "100", filled_at=filled_at)
    assert event_from_broker_order(filled, OBSERVED).at == filled_at  # type: ignore[union-attr]
    assert event_from_broker_order(snapshot("new"), OBSERVED).at == T0  # type: ignore[union-attr]
    no_times = BrokerOrder("B1", "c", "AAPL", "buy", "new")
    assert event_from_broker_order(no_times, OBSERVED).at == OBSERVED  # type: ignore[union-attr]


def update(event: str, order: BrokerOrder, timestamp: datetime | None = None) -> TradeUpdate:
    return TradeUpdate("01J0", event, T0, "acct-1", order, timestamp=timestamp)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("new", K.ACCEPTED),
        ("pending_new", K.ACCEPTED),
        ("partial_fill", K.PARTIALLY_FILLED),
        ("fill", K.FILLED),
        ("canceled", K.CANCELED),
        ("expired", K.EXPIRED),
        ("rejected", K.REJECTED),
    ],
)
def test_trade_event_maps_to_event(name: str, kind: OrderEventKind) -> None:
    event = event_from_trade_update(update(name, snapshot("new", "4", "101.5")))
    assert event is not None
    assert event.kind is kind
    # cumulative figures come from the order, never from the execution's qty/price
    assert (event.filled_qty, event.filled_avg_price) == (Decimal(4), Decimal("101.5"))


@pytest.mark.parametrize(
    "name", ["done_for_day", "pending_cancel", "order_cancel_rejected", "replaced"]
)
def test_trade_events_that_change_nothing_are_ignored(name: str) -> None:
    assert event_from_trade_update(update(name, snapshot("new"))) is None


def test_fill_is_dated_by_its_execution_timestamp() -> None:
    executed = T0 - timedelta(seconds=2)
    fill = event_from_trade_update(update("fill", snapshot("filled", "10", "1"), executed))
    assert fill is not None
    assert fill.at == executed
    cancel = event_from_trade_update(update("canceled", snapshot("canceled"), executed))
    assert cancel is not None
    assert cancel.at == T0
