"""`rate_limit_per_minute`: 429 with a Retry-After (seconds) once a client is over it, like
Alpaca; trading routes only, the admin routes never; off by default. On a FakeClock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from rebal_broker_sim.bootstrap import bootstrap
from rebal_broker_sim.domain.behaviour import BehaviourConfig
from rebal_broker_sim.entrypoints.cli import behaviour_from, build_parser
from rebal_broker_sim.entrypoints.http_app import create_app
from rebal_broker_sim.service_layer.rate_limit import RequestRateLimit
from rebal_runtime.clock import FakeClock

T0 = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)
AUTH = ("sim-key", "sim-secret")
ORDERS = "/v1/trading/accounts/acct-1/orders"


def test_over_the_limit_a_client_is_told_how_long_to_wait() -> None:
    clock = FakeClock(T0)
    limit = RequestRateLimit(clock)
    assert limit.admit(60) is None  # a full bucket: one second's worth
    assert limit.admit(60) == 1
    clock.advance(timedelta(seconds=0.5))
    assert limit.admit(60) == 1  # 0.5 s to go, rounded up to whole seconds
    clock.advance(timedelta(seconds=0.5))
    assert limit.admit(60) is None
    assert limit.refused == 2


def test_a_slow_limit_asks_for_a_longer_wait_and_off_admits_everything() -> None:
    clock = FakeClock(T0)
    limit = RequestRateLimit(clock)
    assert limit.admit(6) is None  # one every 10 s
    assert limit.admit(6) == 10
    assert all(limit.admit(0) is None for _ in range(100))
    assert limit.admit(6) is None  # set again: a new, full bucket


def test_a_refused_request_takes_no_token() -> None:
    clock = FakeClock(T0)
    limit = RequestRateLimit(clock)
    assert limit.admit(60) is None
    for _ in range(5):
        assert limit.admit(60) == 1
    clock.advance(timedelta(seconds=1))
    assert limit.admit(60) is None  # the refusals did not push the next token back


def test_the_limit_is_off_by_default_and_never_negative() -> None:
    assert BehaviourConfig().rate_limit_per_minute == 0
    with pytest.raises(ValueError):
        BehaviourConfig(rate_limit_per_minute=-1)


def test_the_command_line_sets_it() -> None:
    args = build_parser().parse_args(["--rate-limit-per-minute", "120"])
    assert behaviour_from(args).rate_limit_per_minute == 120
    assert behaviour_from(build_parser().parse_args([])).rate_limit_per_minute == 0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def http(tmp_path: Path, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    simulator = bootstrap(tmp_path / "sim.sqlite", clock=clock)
    transport = httpx.ASGITransport(app=create_app(simulator))
    await simulator.start()  # what the app's lifespan does; the transport does not run it
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim", auth=AUTH) as c:
            await c.post("/admin/prices", json={"prices": [{"symbol": "AAPL", "price": "10"}]})
            yield c
    finally:
        await simulator.stop()


def order(coid: str) -> dict[str, str]:
    return {
        "symbol": "AAPL",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "qty": "1",
        "client_order_id": coid,
    }


async def test_off_by_default_over_http(http: httpx.AsyncClient) -> None:
    assert (await http.get("/admin/config")).json()["rate_limit_per_minute"] == 0
    answers = [await http.get(f"{ORDERS}:by_client_order_id?client_order_id=x") for _ in range(20)]
    assert {a.status_code for a in answers} == {404}


async def test_a_client_over_the_limit_gets_429_with_retry_after(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    config = await http.post("/admin/config", json={"rate_limit_per_minute": 60})
    assert config.json()["rate_limit_per_minute"] == 60

    assert (await http.post(ORDERS, json=order("c1"))).status_code == 200
    refused = await http.post(ORDERS, json=order("c2"))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    assert refused.json() == {"code": 42910000, "message": "rate limit exceeded"}
    # every trading route counts, lookups and cancels too
    lookup = await http.get(f"{ORDERS}:by_client_order_id", params={"client_order_id": "c1"})
    assert lookup.status_code == 429 and lookup.headers["Retry-After"] == "1"
    assert (await http.delete(f"{ORDERS}/nope")).status_code == 429
    assert (await http.get(ORDERS)).status_code == 429

    # the admin routes are never limited
    for _ in range(10):
        assert (await http.get("/admin/config")).status_code == 200
    admin = (await http.get("/admin/orders")).json()
    assert [(r["client_order_id"], r["outcome"], r["http_status"]) for r in admin["requests"]] == [
        ("c1", "accepted", 200),
        ("c2", "rate_limited", 429),  # not processed: no order
    ]
    assert [o["client_order_id"] for o in admin["orders"]] == ["c1"]
    assert admin["rate_limited_requests"] == 4

    clock.advance(timedelta(seconds=1))  # waited the Retry-After: the same order is accepted
    assert (await http.post(ORDERS, json=order("c2"))).status_code == 200


async def test_the_limit_can_be_lifted_at_run_time(
    http: httpx.AsyncClient, clock: FakeClock
) -> None:
    await http.post("/admin/config", json={"rate_limit_per_minute": 60})
    await http.get(ORDERS)
    assert (await http.get(ORDERS)).status_code == 429
    await http.post("/admin/config", json={"rate_limit_per_minute": 0})
    assert {(await http.get(ORDERS)).status_code for _ in range(10)} == {200}


@pytest.mark.parametrize("value", [-1, "60", 1.5, True])
async def test_an_invalid_limit_is_refused(http: httpx.AsyncClient, value: object) -> None:
    assert (
        await http.post("/admin/config", json={"rate_limit_per_minute": value})
    ).status_code == 422
    assert (await http.get("/admin/config")).json()["rate_limit_per_minute"] == 0
