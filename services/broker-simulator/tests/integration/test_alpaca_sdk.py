"""Alpaca's own Python SDK (alpaca-py, unchanged) trades against the simulator: the order-router's
broker adapter speaks to Alpaca and to the simulator alike."""

from __future__ import annotations

import uuid
from decimal import Decimal

from alpaca.broker.client import BrokerClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from .conftest import AUTH, BrokerApi, RunningSimulator


def sdk(sim: RunningSimulator) -> BrokerClient:
    return BrokerClient(AUTH[0], AUTH[1], sandbox=False, url_override=sim.base_url)


def test_an_sdk_qty_order_fills_and_is_found_by_its_client_order_id(
    sim: RunningSimulator, api: BrokerApi
) -> None:
    api.set_prices(AAPL="187.33")
    account = str(uuid.uuid4())
    client_order_id = f"run-{uuid.uuid4().hex[:8]}:0"
    order = sdk(sim).submit_order_for_account(
        account,
        MarketOrderRequest(
            symbol="AAPL",
            qty=3,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.DAY,
            client_order_id=client_order_id,
        ),
    )
    assert order.client_order_id == client_order_id
    found = sdk(sim).get_order_for_account_by_client_id(account, client_order_id)
    assert found.id == order.id
    assert found.status == OrderStatus.FILLED
    assert Decimal(str(found.filled_qty)) == 3
    assert Decimal(str(found.filled_avg_price)) == Decimal("187.33")


def test_an_sdk_notional_sell_fills_notional_over_price(
    sim: RunningSimulator, api: BrokerApi
) -> None:
    api.set_prices(TLT="100.00")
    account = str(uuid.uuid4())
    order = sdk(sim).submit_order_for_account(
        account,
        MarketOrderRequest(
            symbol="TLT",
            notional=250,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=f"run-{uuid.uuid4().hex[:8]}:1",
        ),
    )
    assert order.status == OrderStatus.FILLED
    assert Decimal(str(order.filled_qty)) == Decimal("2.5")
