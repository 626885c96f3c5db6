"""The /admin/* endpoints behind their own bearer token, distinct from the trading API keys."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from rebal_broker_sim.bootstrap import bootstrap
from rebal_broker_sim.entrypoints.admin_auth import admin_headers
from rebal_broker_sim.entrypoints.cli import build_parser, check_auth_settings
from rebal_broker_sim.entrypoints.http_app import create_app

TOKEN = "admin-token-for-tests"
TRADING = ("sim-key", "sim-secret")
ADMIN_PATHS = [
    ("GET", "/admin/orders"),
    ("GET", "/admin/prices"),
    ("POST", "/admin/prices"),
    ("GET", "/admin/config"),
    ("POST", "/admin/config"),
    ("POST", "/admin/end-of-day"),
]


@asynccontextmanager
async def client_for(tmp_path: Path, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
    simulator = bootstrap(tmp_path / "sim.sqlite", admin_token=token)
    transport = httpx.ASGITransport(app=create_app(simulator))
    await simulator.start()  # what the app's lifespan does; the transport does not run it
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            yield client
    finally:
        await simulator.stop()


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(tmp_path, TOKEN) as client:
        yield client


@pytest.fixture
async def open_sim(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(tmp_path, None) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
async def test_admin_without_the_token_is_401_with_a_clear_error(
    secured: httpx.AsyncClient, method: str, path: str
) -> None:
    answer = await secured.request(method, path, json={"prices": []})
    assert answer.status_code == 401
    assert answer.json()["code"] == 40110000
    assert "Bearer" in answer.json()["message"]
    assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_the_trading_keys_do_not_open_admin(secured: httpx.AsyncClient) -> None:
    answer = await secured.get("/admin/orders", auth=TRADING)
    assert answer.status_code == 401
    assert "trading API keys do not open them" in answer.json()["message"]


async def test_a_wrong_token_is_401(secured: httpx.AsyncClient) -> None:
    answer = await secured.get("/admin/orders", headers=admin_headers("not-the-token"))
    assert answer.status_code == 401
    assert answer.json()["message"] == "wrong admin token"


async def test_the_token_opens_admin(secured: httpx.AsyncClient) -> None:
    headers = admin_headers(TOKEN)
    assert (await secured.get("/admin/orders", headers=headers)).status_code == 200
    body = {"prices": [{"symbol": "SPY", "price": "500.00"}]}
    assert (await secured.post("/admin/prices", json=body, headers=headers)).status_code == 200
    config = await secured.get("/admin/config", headers=headers)
    assert config.json()["fill_mode"] == "immediate"


async def test_the_admin_token_does_not_open_trading(secured: httpx.AsyncClient) -> None:
    answer = await secured.get("/v1/trading/accounts/acct-1/orders", headers=admin_headers(TOKEN))
    assert answer.status_code == 401


async def test_health_stays_open(secured: httpx.AsyncClient) -> None:
    assert (await secured.get("/health")).status_code == 200


async def test_without_a_token_admin_is_open_as_before(open_sim: httpx.AsyncClient) -> None:
    assert (await open_sim.get("/admin/orders")).status_code == 200
    assert admin_headers(None) == {}


def test_an_open_admin_is_warned_about_once_at_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rebal_broker_sim"):
        check_auth_settings(build_parser().parse_args(["--admin-token", ""]))
    warnings = [r for r in caplog.records if "REBAL_SIM_ADMIN_TOKEN" in r.getMessage()]
    assert len(warnings) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rebal_broker_sim"):
        check_auth_settings(build_parser().parse_args(["--admin-token", TOKEN]))
    assert caplog.records == []


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["--key", "k", "--secret", "s"], "no admin token"),
        (["--admin-token", TOKEN], "default trading key"),
        (["--admin-token", TOKEN, "--key", "", "--secret", "s"], "empty trading key"),
    ],
)
def test_require_auth_refuses_to_start_open(argv: list[str], refusal: str) -> None:
    with pytest.raises(SystemExit, match=refusal):
        check_auth_settings(build_parser().parse_args(["--require-auth", *argv]))
    check_auth_settings(
        build_parser().parse_args(
            ["--require-auth", "--admin-token", TOKEN, "--key", "k", "--secret", "s"]
        )
    )
