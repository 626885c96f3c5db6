"""The pure fill engine: rejects, fill plans, fill quantities, buying power."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_broker_sim.domain.behaviour import BehaviourConfig, FillMode
from rebal_broker_sim.domain.fill_engine import (
    execute_due_fill,
    has_buying_power,
    next_execution,
    open_buy_reservation,
    order_qty_at,
    plan_fill,
    rejection_reason,
)
from rebal_broker_sim.domain.orders import (
    OrderFilled,
    OrderPartiallyFilled,
    OrderRequest,
    OrderStatus,
    Side,
    apply,
    new_order,
)
from rebal_broker_sim.domain.quotes import Quote

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def request(
    qty: str | None = None, notional: str | None = None, side: Side = Side.BUY, symbol: str = "AAPL"
) -> OrderRequest:
    return OrderRequest(
        account_id="acct",
        client_order_id="run-1:leg-0",
        symbol=symbol,
        side=side,
        qty=Decimal(qty) if qty is not None else None,
        notional=Decimal(notional) if notional is not None else None,
    )


def quote(price: str, tradable: bool = True, fractionable: bool = True) -> Quote:
    return Quote("AAPL", Decimal(price), tradable, fractionable)


def test_a_qty_order_fills_its_qty_at_the_last_price() -> None:
    order, _ = new_order(request(qty="3"), "o1", NOW, Decimal(1), NOW)
    filled, execution = execute_due_fill(order, quote("101.5"), NOW)
    assert isinstance(execution, OrderFilled)
    assert execution.qty == Decimal(3)
    assert filled.status is OrderStatus.FILLED
    assert filled.filled_qty == Decimal(3)
    assert filled.filled_avg_price == Decimal("101.5")
    assert filled.filled_at == NOW
    assert filled.fill_due_at is None


def test_a_notional_order_fills_notional_over_price_rounded_down_to_nine_places() -> None:
    order, _ = new_order(request(notional="1000"), "o1", NOW, Decimal(1), NOW)
    filled, execution = execute_due_fill(order, quote("150.25"), NOW)
    assert execution is not None
    assert execution.qty == Decimal("6.655574043")  # 1000 / 150.25 = 6.6555740432...
    assert filled.status is OrderStatus.FILLED


@settings(max_examples=150)
@given(
    notional=st.decimals(min_value="1.00", max_value="1000000", places=2),
    price=st.decimals(min_value="0.01", max_value="100000", places=4),
)
def test_a_notional_fill_never_spends_more_than_the_notional(
    notional: Decimal, price: Decimal
) -> None:
    order, _ = new_order(request(notional=str(notional)), "o1", NOW, Decimal(1), NOW)
    qty = order_qty_at(order, price)
    assert qty == qty.quantize(Decimal("1e-9"))
    assert qty * price <= notional
    # ...and leaves less than one quantum of a share unspent.
    assert notional - qty * price < price * Decimal("1e-9")


def test_partial_mode_fills_the_configured_fraction_and_stays_open() -> None:
    plan = plan_fill(
        BehaviourConfig(fill_mode=FillMode.PARTIAL, partial_fill_ratio=Decimal("0.4")), NOW
    )
    order, _ = new_order(request(qty="10"), "o1", NOW, plan.ratio, plan.due_at)
    partial, execution = execute_due_fill(order, quote("20"), NOW)
    assert isinstance(execution, OrderPartiallyFilled)
    assert partial.status is OrderStatus.PARTIALLY_FILLED
    assert partial.filled_qty == Decimal(4)
    assert partial.fill_due_at is None  # the rest never fills by itself
    assert partial.is_open


def test_partial_fill_of_a_non_fractionable_asset_is_whole_shares() -> None:
    order, _ = new_order(request(qty="5"), "o1", NOW, Decimal("0.5"), NOW)
    partial, execution = execute_due_fill(order, quote("20", fractionable=False), NOW)
    assert execution is not None
    assert execution.qty == Decimal(2)
    assert partial.filled_qty == Decimal(2)


def test_no_execution_when_the_plan_rounds_to_zero_or_the_order_is_closed() -> None:
    order, _ = new_order(request(qty="1"), "o1", NOW, Decimal("0.5"), NOW)
    assert next_execution(order, quote("20", fractionable=False), NOW) is None
    filled, _ = execute_due_fill(new_order(request(qty="1"), "o2", NOW)[0], quote("20"), NOW)
    assert next_execution(filled, quote("20"), NOW) is None


@pytest.mark.parametrize(
    ("mode", "ratio", "due"),
    [
        (FillMode.IMMEDIATE, Decimal(1), NOW),
        (FillMode.PARTIAL, Decimal("0.5"), NOW),
        (FillMode.DELAYED, Decimal(1), NOW + timedelta(milliseconds=250)),
        (FillMode.HOLD, Decimal(1), None),
    ],
)
def test_fill_plan_per_mode(mode: FillMode, ratio: Decimal, due: datetime | None) -> None:
    plan = plan_fill(BehaviourConfig(fill_mode=mode, fill_delay_ms=250), NOW)
    assert plan.ratio == ratio
    assert plan.due_at == due


def test_rejection_reasons() -> None:
    default = BehaviourConfig()
    assert rejection_reason(request(qty="1"), quote("10"), default) is None
    listed = BehaviourConfig(reject_symbols=frozenset({"AAPL"}))
    assert "configured to be rejected" in (
        rejection_reason(request(qty="1"), quote("10"), listed) or ""
    )
    assert "no price" in (rejection_reason(request(qty="1"), None, default) or "")
    lenient = BehaviourConfig(reject_unknown_symbols=False)
    assert rejection_reason(request(qty="1"), None, lenient) is None
    untradable = quote("10", tradable=False)
    assert "not tradable" in (rejection_reason(request(qty="1"), untradable, default) or "")
    whole_only = quote("10", fractionable=False)
    assert "not fractionable" in (rejection_reason(request(qty="1.5"), whole_only, default) or "")
    assert "not fractionable" in (
        rejection_reason(request(notional="50"), whole_only, default) or ""
    )
    assert rejection_reason(request(qty="2"), whole_only, default) is None


def test_buying_power_counts_open_buy_orders() -> None:
    open_buy, _ = new_order(request(notional="60"), "o1", NOW)
    reserved = open_buy_reservation(open_buy, quote("10"))
    assert reserved == Decimal(60)
    assert has_buying_power(request(notional="40"), quote("10"), Decimal(100), reserved)
    assert not has_buying_power(request(notional="40.01"), quote("10"), Decimal(100), reserved)
    assert not has_buying_power(request(qty="5"), quote("10"), Decimal(100), reserved)
    # sells need no cash
    assert has_buying_power(request(qty="500", side=Side.SELL), quote("10"), Decimal(0), reserved)


def test_a_partly_filled_buy_reserves_only_its_unfilled_part() -> None:
    order, _ = new_order(request(qty="10"), "o1", NOW, Decimal("0.5"), NOW)
    partial, _ = execute_due_fill(order, quote("10"), NOW)
    assert open_buy_reservation(partial, quote("12")) == Decimal(60)
    closed = apply(partial, OrderFilled(at=NOW, qty=Decimal(5), price=Decimal(10)))
    assert open_buy_reservation(closed, quote("12")) == Decimal(0)
