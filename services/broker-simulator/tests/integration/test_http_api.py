"""The simulator as a real process: Alpaca Broker API trading endpoints over HTTP."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

ORDER_KEYS = {
    "id",
    "client_order_id",
    "created_at",
    "updated_at",
    "submitted_at",
    "filled_at",
    "expired_at",
    "canceled_at",
    "failed_at",
    "asset_class",
    "symbol",
    "notional",
    "qty",
    "filled_qty",
    "filled_avg_price",
    "order_type",
    "type",
    "side",
    "time_in_force",
    "status",
    "reject_reason",
}


def test_health(api) -> None:
    assert api.http.get("/health", auth=None).json() == {"status": "ok"}


def test_a_qty_market_order_fills_at_the_last_price(api) -> None:
    api.set_prices(AAPL="187.33")
    response = api.submit(symbol="AAPL", qty="3", client_order_id="run-1:leg-AAPL")
    assert response.status_code == 200
    order = response.json()
    assert order.keys() >= ORDER_KEYS
    assert order["status"] == "filled"
    assert order["filled_qty"] == "3"
    assert order["filled_avg_price"] == "187.33"
    assert order["qty"] == "3"
    assert order["notional"] is None
    assert (order["asset_class"], order["type"], order["order_type"]) == (
        "us_equity",
        "market",
        "market",
    )
    assert order["time_in_force"] == "day"
    assert order["filled_at"] is not None
    assert [e["event"] for e in api.my_events()] == ["new", "fill"]


def test_a_notional_order_fills_notional_over_price(api) -> None:
    api.set_prices(MSFT="333")
    order = api.submit(symbol="MSFT", notional="1000.00").json()
    assert order["status"] == "filled"
    expected = (Decimal("1000") / Decimal("333")).quantize(Decimal("1e-9"), rounding="ROUND_DOWN")
    assert Decimal(order["filled_qty"]) == expected
    assert order["notional"] == "1000"
    assert order["qty"] is None
    fill = api.my_events()[-1]
    assert (fill["event"], Decimal(fill["qty"]), fill["price"]) == ("fill", expected, "333")
    assert Decimal(fill["position_qty"]) == expected


def test_a_reused_client_order_id_is_refused_and_recorded(api) -> None:
    api.set_prices(AAPL="100")
    first = api.submit(qty="1", client_order_id="run-7:leg-1")
    second = api.submit(qty="1", client_order_id="run-7:leg-1")
    assert first.status_code == 200
    assert second.status_code == 422
    assert second.json() == {"code": 42210000, "message": "client_order_id must be unique"}
    admin = api.admin()
    mine = [o for o in admin["orders"] if o["account_id"] == api.account_id]
    assert [o["client_order_id"] for o in mine] == ["run-7:leg-1"]
    outcomes = [(r["client_order_id"], r["outcome"], r["http_status"]) for r in api.my_requests()]
    assert outcomes == [("run-7:leg-1", "accepted", 200), ("run-7:leg-1", "duplicate", 422)]
    assert admin["duplicate_requests"] >= 1


def test_get_by_client_order_id_and_by_id(api) -> None:
    api.set_prices(AAPL="100")
    created = api.submit(qty="2", client_order_id="run-8:leg-0").json()
    found = api.by_client_order_id("run-8:leg-0")
    assert found.status_code == 200
    assert found.json() == created
    by_id = api.http.get(f"{api.orders_path}/{created['id']}")
    assert by_id.json()["client_order_id"] == "run-8:leg-0"
    missing = api.by_client_order_id("never-sent")
    assert missing.status_code == 404
    assert missing.json()["code"] == 40410000
    # an order is only visible through its own account
    other = api.http.get(f"/v1/trading/accounts/someone-else/orders/{created['id']}")
    assert other.status_code == 404


def test_cancel_an_open_order_then_refuse_to_cancel_again(api) -> None:
    api.set_prices(AAPL="100")
    api.configure(fill_mode="hold")
    order = api.submit(qty="1").json()
    assert order["status"] == "new"
    assert api.http.get(api.orders_path, params={"status": "open"}).json()[0]["id"] == order["id"]
    canceled = api.http.delete(f"{api.orders_path}/{order['id']}")
    assert canceled.status_code == 204
    after = api.http.get(f"{api.orders_path}/{order['id']}").json()
    assert after["status"] == "canceled"
    assert after["canceled_at"] is not None
    again = api.http.delete(f"{api.orders_path}/{order['id']}")
    assert again.status_code == 422
    assert again.json()["code"] == 42210000
    assert [e["event"] for e in api.my_events()] == ["new", "canceled"]
    assert api.http.delete(f"{api.orders_path}/no-such-order").status_code == 404


def test_a_filled_order_cannot_be_canceled(api) -> None:
    api.set_prices(AAPL="100")
    order = api.submit(qty="1").json()
    response = api.http.delete(f"{api.orders_path}/{order['id']}")
    assert response.status_code == 422
    assert "filled" in response.json()["message"]


def test_partial_fill_then_end_of_day_expiry(api) -> None:
    api.set_prices(AAPL="50")
    api.configure(fill_mode="partial", partial_fill_ratio="0.4")
    order = api.submit(qty="10").json()
    assert order["status"] == "partially_filled"
    assert order["filled_qty"] == "4"
    expired = api.http.post("/admin/end-of-day").json()["expired"]
    assert order["id"] in {o["id"] for o in expired}
    after = api.by_client_order_id(order["client_order_id"]).json()
    assert after["status"] == "expired"
    assert after["filled_qty"] == "4"
    assert after["expired_at"] is not None
    events = api.my_events()
    assert [e["event"] for e in events] == ["new", "partial_fill", "expired"]
    assert events[1]["qty"] == "4"


def test_delayed_fill_arrives_later(api) -> None:
    api.set_prices(AAPL="10")
    api.configure(fill_mode="delayed", fill_delay_ms=150)
    order = api.submit(qty="1").json()
    assert order["status"] == "new"
    api.wait_for(
        lambda: api.by_client_order_id(order["client_order_id"]).json()["status"] == "filled",
        "the delayed fill",
    )
    assert [e["event"] for e in api.my_events()] == ["new", "fill"]


@pytest.mark.parametrize(
    ("symbol", "body", "reason"),
    [
        ("BADCO", {"qty": "1"}, "configured to be rejected"),
        ("NOPRICE", {"qty": "1"}, "no price"),
        ("WHOLE", {"notional": "50"}, "not fractionable"),
        ("HALTED", {"qty": "1"}, "not tradable"),
    ],
)
def test_rejected_orders_are_stored_with_their_reason(api, symbol, body, reason) -> None:
    api.http.post(
        "/admin/prices",
        json={
            "prices": [
                {"symbol": "BADCO", "price": "5"},
                {"symbol": "WHOLE", "price": "5", "fractionable": False},
                {"symbol": "HALTED", "price": "5", "tradable": False},
            ]
        },
    ).raise_for_status()
    api.configure(reject_symbols=["BADCO"])
    response = api.submit(symbol=symbol, **body)
    assert response.status_code == 200
    order = response.json()
    assert order["status"] == "rejected"
    assert reason in order["reject_reason"]
    assert order["failed_at"] is not None
    assert order["filled_qty"] == "0"
    assert [e["event"] for e in api.my_events()] == ["rejected"]


@pytest.mark.parametrize(
    "auth",
    [None, ("sim-key", "wrong-secret"), ("other-key", "sim-secret")],
)
def test_requests_without_valid_auth_get_401(api, auth) -> None:
    response = api.http.post(api.orders_path, json={"symbol": "AAPL"}, auth=auth)
    assert response.status_code == 401
    assert response.json() == {"code": 40110000, "message": "request is not authorized"}
    stream = api.http.get("/v2/events/trades", auth=auth)
    assert stream.status_code == 401
    assert api.my_requests() == []  # refused before the order book saw it


def test_trading_api_key_headers_are_accepted_too(api) -> None:
    headers = {"APCA-API-KEY-ID": "sim-key", "APCA-API-SECRET-KEY": "sim-secret"}
    response = api.http.get(api.orders_path, auth=None, headers=headers)
    assert response.status_code == 200
    assert response.json() == []


def test_malformed_and_invalid_requests(api) -> None:
    malformed = api.http.post(
        api.orders_path, content=b"{not json", headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["code"] == 40010000
    cases = [
        {"type": "limit"},
        {"time_in_force": "gtc"},
        {"qty": "1", "notional": "10"},
        {"qty": "-1"},
        {"qty": "0.0000000001"},
        {"notional": "10.001"},
        {"client_order_id": "x" * 129},
        {"side": "short"},
    ]
    for overrides in cases:
        body = {
            "symbol": "AAPL",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "qty": "1",
            **overrides,
        }
        if "notional" in overrides and "qty" not in overrides:
            body.pop("qty")
        response = api.http.post(api.orders_path, json=body)
        assert response.status_code == 422, overrides
        assert response.json()["code"] == 42210000
    outcomes = [r["outcome"] for r in api.my_requests()]
    assert outcomes == ["malformed"] + ["invalid"] * len(cases)


def test_insufficient_buying_power_is_403(api) -> None:
    api.set_prices(AAPL="10")
    api.configure(cash={api.account_id: "100"})
    assert api.submit(qty="6").status_code == 200
    refused = api.submit(qty="5")
    assert refused.status_code == 403
    assert refused.json() == {"code": 40310000, "message": "insufficient buying power"}
    assert api.submit(side="sell", qty="1").status_code == 200
    config = api.http.get("/admin/config").json()
    assert config["cash"][api.account_id] == "50"  # 100 - 60 + 10


def test_outage_mode_answers_503_then_recovers(api) -> None:
    api.set_prices(AAPL="10")
    api.configure(fail_next_n_requests=2)
    first = api.submit(qty="1", client_order_id="run-9:leg-0")
    assert first.status_code == 503
    assert first.json()["code"] == 50310000
    assert api.by_client_order_id("run-9:leg-0").status_code == 503
    assert api.by_client_order_id("run-9:leg-0").status_code == 404  # outage over: not stored
    assert api.submit(qty="1", client_order_id="run-9:leg-0").status_code == 200
    assert [r["outcome"] for r in api.my_requests()] == ["unavailable", "accepted"]


def test_a_dropped_response_still_stores_the_order_once(api) -> None:
    api.set_prices(AAPL="10")
    api.configure(drop_next_n_responses=1)
    with pytest.raises(httpx.RemoteProtocolError):
        api.submit(qty="1", client_order_id="run-10:leg-0")
    # The router's recovery: look the order up before retrying.
    found = api.by_client_order_id("run-10:leg-0")
    assert found.status_code == 200
    assert found.json()["status"] == "filled"
    retry = api.submit(qty="1", client_order_id="run-10:leg-0")
    assert retry.status_code == 422
    mine = [o for o in api.admin()["orders"] if o["account_id"] == api.account_id]
    assert len(mine) == 1
    assert [r["outcome"] for r in api.my_requests()] == ["accepted_response_dropped", "duplicate"]


def test_admin_config_refuses_unknown_or_invalid_fields(api) -> None:
    assert api.http.post("/admin/config", json={"speed": 3}).status_code == 422
    assert api.http.post("/admin/config", json={"partial_fill_ratio": "1.5"}).status_code == 422
    assert api.http.post("/admin/config", json={"fill_mode": "sometimes"}).status_code == 422
    assert api.http.get("/admin/config").json()["fill_mode"] == "immediate"
