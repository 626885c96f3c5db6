"""Tax lots on the wire: a snapshot's lots must add up to its holdings; a planned sale's lots and
gain, and run.completed's realized gains, round trip; payloads without them keep their bytes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from rebal_schemas import (
    ConsumedLot,
    HoldingsReported,
    LotPolicy,
    OptimizationReady,
    PlannedOrder,
    PortfolioSettingsChanged,
    RealizedGains,
    TaxLot,
    WashSaleGuard,
    decode,
    encode,
)
from rebal_schemas.events.orders import MAX_RUN_LOTS

AT = datetime(2026, 6, 1, 14, tzinfo=UTC)
LOT = TaxLot(qty=D(2), cost_per_share=D("10.5"), acquired_on=date(2025, 1, 2))


def snapshot(**extra: object) -> HoldingsReported:
    return HoldingsReported(portfolio_id="p", as_of=AT, holdings={"A": D(3)}, **extra)  # type: ignore[arg-type]


def test_a_snapshot_with_lots_that_add_up_round_trips() -> None:
    lots = {"A": (LOT, TaxLot(qty=D(1), cost_per_share=D(12), acquired_on=date(2026, 5, 1)))}
    event = snapshot(lots=lots)
    again = decode("portfolio.patched", encode(event))
    assert isinstance(again, HoldingsReported) and again.lots == lots


def test_lots_that_do_not_add_up_to_the_holding_are_refused() -> None:
    with pytest.raises(ValidationError, match="do not add up"):
        snapshot(lots={"A": (LOT,)})
    with pytest.raises(ValidationError, match="do not add up"):
        snapshot(lots={"B": (LOT,)})  # not held at all


def test_lots_come_with_a_snapshot_only() -> None:
    with pytest.raises(ValidationError, match="snapshot"):
        snapshot(mode="delta", lots={"A": (LOT, LOT.model_copy(update={"qty": D(1)}))})


def test_a_snapshot_without_lots_encodes_as_before() -> None:
    assert "lots" not in json.loads(encode(snapshot()))


SALE = PlannedOrder(
    leg=1,
    symbol="A",
    side="sell",  # type: ignore[arg-type]
    qty=D(2),
    expected_price=D(9),
    lots=(ConsumedLot(qty=D(2), cost_per_share=D(10), acquired_on=date(2026, 1, 2)),),
    estimated_gain=RealizedGains(short_term=D("-2.00"), long_term=D(0)),
)


def ready(*orders: PlannedOrder) -> OptimizationReady:
    return OptimizationReady(
        optimization_id="O1",
        portfolio_id="p",
        account_id="a",
        run_type="full_rebalance",  # type: ignore[arg-type]
        broker_integration="PLATFORM",  # type: ignore[arg-type]
        orders=orders,
    )


def test_a_planned_sale_carries_its_lots_and_gain_over_the_wire() -> None:
    again = decode("optimization.ready", encode(ready(SALE)))
    assert isinstance(again, OptimizationReady)
    assert again.orders[0].lots == SALE.lots
    assert again.orders[0].estimated_gain == RealizedGains(short_term=D(-2), long_term=D(0))


def test_an_order_without_lots_encodes_without_the_fields() -> None:
    buy = PlannedOrder(leg=1, symbol="A", side="buy", notional=D(5))  # type: ignore[arg-type]
    order = json.loads(encode(ready(buy)))["orders"][0]
    assert "lots" not in order and "estimated_gain" not in order


def test_an_optimization_lists_a_bounded_number_of_lots() -> None:
    many = tuple(SALE.lots * 100)
    orders = [
        SALE.model_copy(update={"leg": i, "symbol": f"S{i}", "lots": many})
        for i in range(MAX_RUN_LOTS // 100 + 1)
    ]
    with pytest.raises(ValidationError, match="at most"):
        ready(*orders)
    assert ready(*orders[:-1])


def test_gains_are_bounded_cash_amounts() -> None:
    with pytest.raises(ValidationError):
        RealizedGains(short_term=D("1e20"), long_term=D(0))
    with pytest.raises(ValidationError):
        RealizedGains(short_term=D("0.001"), long_term=D(0))


def test_the_lot_settings_travel_and_are_left_out_when_not_given() -> None:
    event = PortfolioSettingsChanged(
        portfolio_id="p", lot_policy=LotPolicy.tax_min, wash_sale_guard=WashSaleGuard.hold
    )
    raw = json.loads(encode(event))
    assert raw["lot_policy"] == "tax_min" and raw["wash_sale_guard"] == "hold"
    assert "lot_policy" not in json.loads(encode(PortfolioSettingsChanged(portfolio_id="p")))
    with pytest.raises(ValidationError):
        PortfolioSettingsChanged(portfolio_id="p", lot_policy="lifo")  # type: ignore[arg-type]
