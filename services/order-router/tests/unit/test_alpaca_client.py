"""AlpacaBrokerClient against a fake Alpaca on a local port: requests, parsing, errors, SSE,
secrets, connection reuse."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rebal_order_router.adapters.alpaca_client import AlpacaBrokerClient
from rebal_order_router.adapters.alpaca_payloads import parse_retry_after
from rebal_order_router.domain import (
    BrokerAuthFailed,
    BrokerUnavailable,
    DuplicateClientOrderId,
    OrderRejected,
    OrderSide,
    RateLimited,
)

COID = "rebal-run1-000.sell.AAPL"


async def test_submit_sends_a_market_day_order_with_basic_auth(
    alpaca_client, fake_alpaca, credentials
) -> None:
    order = await alpaca_client.submit_order(
        fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal("1.50")
    )

    (request,) = fake_alpaca.requests
    assert (request.method, request.path) == ("POST", fake_alpaca.orders_path)
    assert json.loads(request.content) == {
        "symbol": "AAPL",
        "side": "sell",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": COID,
        "qty": "1.50",
    }
    key, secret = credentials
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {token}"
    assert (order.client_order_id, order.id, order.status) == (COID, "ord-1", "accepted")
    assert order.qty == Decimal("1.50")
    # nanosecond timestamps are read (to the microsecond) and are UTC
    assert order.created_at == datetime(2024, 7, 1, 14, 0, 0, 123456, tzinfo=UTC)


async def test_notional_order_body(alpaca_client, fake_alpaca) -> None:
    order = await alpaca_client.submit_order(
        fake_alpaca.account, COID, "VTI", OrderSide.BUY, notional=Decimal("1E+3")
    )
    body = json.loads(fake_alpaca.requests[0].content)
    assert body["notional"] == "1000"
    assert "qty" not in body
    assert (order.notional, order.qty) == (Decimal(1000), None)


async def test_submit_needs_exactly_one_size(alpaca_client, fake_alpaca) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        await alpaca_client.submit_order(fake_alpaca.account, COID, "VTI", OrderSide.BUY)
    assert fake_alpaca.requests == []


async def test_reused_client_order_id_is_a_duplicate(alpaca_client, fake_alpaca) -> None:
    await alpaca_client.submit_order(
        fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
    )
    with pytest.raises(DuplicateClientOrderId) as caught:
        await alpaca_client.submit_order(
            fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
        )
    assert caught.value.code == 42210000


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (422, {"code": 42210000, "message": "qty must be > 0"}, OrderRejected, 42210000),
        (403, {"code": 40310000, "message": "insufficient buying power"}, OrderRejected, 40310000),
        (404, {"code": 40410000, "message": "account not found"}, OrderRejected, 40410000),
        (401, {"code": 40110000, "message": "request is not authorized"}, BrokerAuthFailed, None),
        (500, {"message": "internal"}, BrokerUnavailable, None),
        (503, None, BrokerUnavailable, None),
        (408, None, BrokerUnavailable, None),
        (429, {"message": "rate limit exceeded"}, RateLimited, None),
    ],
)
async def test_error_classification(alpaca_client, fake_alpaca, status, body, error, code) -> None:
    fake_alpaca.fail_next("POST", status, body)
    with pytest.raises(error) as caught:
        await alpaca_client.submit_order(
            fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
        )
    if code is not None:
        assert caught.value.code == code
        assert caught.value.status_code == status
    assert fake_alpaca.orders == {}  # the scripted reply means nothing was recorded


async def test_rate_limit_carries_retry_after(alpaca_client, fake_alpaca) -> None:
    fake_alpaca.fail_next("POST", 429, {"message": "slow down"}, {"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        await alpaca_client.submit_order(
            fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
        )
    assert caught.value.retry_after == 7.0


def test_retry_after_as_http_date() -> None:
    now = datetime(2024, 7, 1, 14, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 01 Jul 2024 14:00:30 GMT", now) == 30.0
    assert parse_retry_after("Mon, 01 Jul 2024 13:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


@pytest.mark.parametrize(
    ("fault", "recorded"),
    [({"dropped": True}, False), ({"lost_reply": True}, True), ({"delay": 1.0}, True)],
)
async def test_transport_failures_are_unavailable(
    fake_alpaca, credentials, fault, recorded
) -> None:
    key, secret = credentials
    fake_alpaca.fail_next("POST", **fault)
    async with AlpacaBrokerClient(fake_alpaca.base_url, key, secret, timeout=0.3) as client:
        with pytest.raises(BrokerUnavailable):
            await client.submit_order(
                fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
            )
    if fault.get("delay"):
        await asyncio.sleep(1.0)  # the slow reply's request is processed all the same
    assert (COID in fake_alpaca.orders) is recorded


async def test_a_broker_that_is_not_listening_is_unavailable(credentials) -> None:
    key, secret = credentials
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AlpacaBrokerClient(f"http://127.0.0.1:{port}", key, secret) as client:
        with pytest.raises(BrokerUnavailable):
            await client.submit_order("acct-1", COID, "AAPL", OrderSide.SELL, qty=Decimal(1))


async def test_requests_reuse_one_kept_alive_connection(alpaca_client, fake_alpaca) -> None:
    for n in range(5):
        await alpaca_client.submit_order(
            fake_alpaca.account, f"{COID}-{n}", "AAPL", OrderSide.SELL, qty=Decimal(1)
        )
        await alpaca_client.get_order_by_client_order_id(fake_alpaca.account, f"{COID}-{n}")
    assert len(fake_alpaca.requests) == 10
    assert len(fake_alpaca.connections) == 1


async def test_malformed_order_reply_is_unavailable(alpaca_client, fake_alpaca) -> None:
    fake_alpaca.fail_next("POST", 200, {"id": "x"})
    with pytest.raises(BrokerUnavailable, match="malformed"):
        await alpaca_client.submit_order(
            fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
        )


async def test_lookup_by_client_order_id(alpaca_client, fake_alpaca) -> None:
    assert await alpaca_client.get_order_by_client_order_id(fake_alpaca.account, COID) is None
    await alpaca_client.submit_order(
        fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
    )

    found = await alpaca_client.get_order_by_client_order_id(fake_alpaca.account, COID)

    assert found is not None
    assert found.client_order_id == COID
    request = fake_alpaca.requests[-1]
    assert request.path == f"{fake_alpaca.orders_path}:by_client_order_id"
    assert request.params["client_order_id"] == COID


async def test_cancel(alpaca_client, fake_alpaca) -> None:
    order = await alpaca_client.submit_order(
        fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
    )
    await alpaca_client.cancel_order(fake_alpaca.account, order.id)
    assert fake_alpaca.requests[-1].method == "DELETE"
    assert fake_alpaca.requests[-1].path == f"{fake_alpaca.orders_path}/{order.id}"
    assert fake_alpaca.orders[COID]["status"] == "pending_cancel"
    with pytest.raises(OrderRejected) as caught:
        await alpaca_client.cancel_order(fake_alpaca.account, "no-such-order")
    assert caught.value.status_code == 404


def trade_event(event_id: str, event: str, filled: str, pretty: bool = False) -> str:
    payload = {
        "event_id": event_id,
        "at": "2024-07-01T14:00:01.5Z",
        "account_id": "acct-1",
        "event": event,
        "qty": "2",
        "price": "100.5",
        "timestamp": "2024-07-01T14:00:01Z",
        "order": {
            "id": "ord-1",
            "client_order_id": COID,
            "symbol": "AAPL",
            "side": "sell",
            "status": "partially_filled",
            "qty": "10",
            "filled_qty": filled,
            "filled_avg_price": "100.25",
        },
    }
    text = json.dumps(payload, indent=1 if pretty else None)
    return "".join(f"data: {line}\n" for line in text.splitlines()) + "\n"


async def test_stream_parses_events_and_resumes_after_since_id(alpaca_client, fake_alpaca) -> None:
    fake_alpaca.sse_body = (
        ": connected\n\n"
        + trade_event("01A", "partial_fill", "2")  # the resume point itself: skipped
        + ": heartbeat\n\n"
        + trade_event("01B", "partial_fill", "4", pretty=True)  # JSON over many data lines
        + "data: {not json\n\n"  # logged and skipped
        + trade_event("01C", "fill", "10")
    ).encode()

    updates = [
        u async for batch in alpaca_client.stream_trade_updates(since_id="01A") for u in batch
    ]

    assert [(u.event_id, u.event, u.order.filled_qty) for u in updates] == [
        ("01B", "partial_fill", Decimal(4)),
        ("01C", "fill", Decimal(10)),
    ]
    assert updates[0].price == Decimal("100.5")
    assert updates[0].qty == Decimal(2)
    request = fake_alpaca.requests[-1]
    assert request.headers["Last-Event-ID"] == "01A"
    assert request.params["since_id"] == "01A"
    assert request.headers["Accept"] == "text/event-stream"


async def test_stream_without_since_id_sends_no_resume_point(alpaca_client, fake_alpaca) -> None:
    fake_alpaca.sse_body = trade_event("01A", "new", "0").encode()
    updates = [u async for batch in alpaca_client.stream_trade_updates() for u in batch]
    assert [u.event_id for u in updates] == ["01A"]
    assert "Last-Event-ID" not in fake_alpaca.requests[-1].headers
    assert "since_id" not in fake_alpaca.requests[-1].params


async def test_stream_takes_the_sse_id_when_the_json_has_none(alpaca_client, fake_alpaca) -> None:
    event = trade_event("", "new", "0")
    fake_alpaca.sse_body = f"id: 99\n{event}".encode()
    updates = [u async for batch in alpaca_client.stream_trade_updates() for u in batch]
    assert [u.event_id for u in updates] == ["99"]


async def test_stream_open_failure_is_classified(alpaca_client, fake_alpaca) -> None:
    fake_alpaca.fail_next("GET", 503, {"message": "down"})
    with pytest.raises(BrokerUnavailable):
        _ = [u async for batch in alpaca_client.stream_trade_updates() for u in batch]


async def test_secrets_never_appear_in_repr_errors_or_logs(
    alpaca_client, fake_alpaca, credentials, caplog
) -> None:
    key, secret = credentials
    encoded = base64.b64encode(f"{key}:{secret}".encode()).decode()
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    messages: list[str] = []
    for status in (401, 422, 503):
        fake_alpaca.fail_next("POST", status, {"message": "no"})
        try:
            await alpaca_client.submit_order(
                fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
            )
        except Exception as exc:
            messages.append(repr(exc) + str(exc))
    await alpaca_client.submit_order(
        fake_alpaca.account, COID, "AAPL", OrderSide.SELL, qty=Decimal(1)
    )

    exposed = [repr(alpaca_client), str(alpaca_client), caplog.text, *messages]
    exposed.append(repr(vars(alpaca_client)))
    assert caplog.records, "the client should have logged something to inspect"
    for text in exposed:
        assert key not in text
        assert secret not in text
        assert encoded not in text
    assert fake_alpaca.base_url in repr(alpaca_client)


async def test_client_is_a_context_manager(fake_alpaca, credentials) -> None:
    key, secret = credentials
    client = AlpacaBrokerClient(fake_alpaca.base_url + "/", key, secret)
    async with client as entered:
        assert entered is client
        assert client.base_url == fake_alpaca.base_url
        assert client.default_account_id is None
        await client.submit_order("acct-1", COID, "AAPL", OrderSide.SELL, qty=Decimal(1))
    with pytest.raises(RuntimeError):
        await client.submit_order("acct-1", COID, "AAPL", OrderSide.SELL, qty=Decimal(1))


async def test_stream_reads_events_split_anywhere_across_reads(alpaca_client, fake_alpaca) -> None:
    body = (trade_event("01A", "new", "0") + trade_event("01B", "fill", "10")).replace(
        "AAPL", "ÄAPL"
    )
    raw = body.encode()
    cut = raw.index("Ä".encode()) + 1  # inside the two bytes of one character
    fake_alpaca.sse_chunks = [raw[:cut], raw[cut : cut + 7], raw[cut + 7 :]]

    updates = [u async for batch in alpaca_client.stream_trade_updates() for u in batch]

    assert [(u.event_id, u.order.symbol) for u in updates] == [("01A", "ÄAPL"), ("01B", "ÄAPL")]


async def test_a_silent_stream_is_unavailable(fake_alpaca, credentials) -> None:
    key, secret = credentials
    fake_alpaca.fail_next("GET", delay=1.0)
    async with AlpacaBrokerClient(
        fake_alpaca.base_url, key, secret, timeout=2.0, stream_idle_timeout=0.2
    ) as client:
        with pytest.raises(BrokerUnavailable, match="timed out"):
            _ = [u async for batch in client.stream_trade_updates() for u in batch]
