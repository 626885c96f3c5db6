"""`rebal runs`, `rebal show`, `rebal optimization`: the api's answers as tables, over a fake
transport (httpx.MockTransport) that checks what the CLI asks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from rebal_client.api_reads import ApiConnection, ApiUnavailable, read_env_file
from rebal_client.cli import main

ENV = {"REBAL_API_KEY": "k", "REBAL_API_SECRET": "s3cret"}
RUN = {
    "id": "0d9c3a4e-1f2b-4c5d-8e9f-0a1b2c3d4e5f",
    "type": "full_rebalance",
    "status": "COMPLETED_SUCCESS",
    "created_at": "2026-03-02T15:00:00Z",
    "rebal_run_id": "OABC",
    "rebal_portfolio_id": "pf-1",
    "reason": None,
    "orders": [{"symbol": "SPY"}],
    "failed_orders": [],
}
PORTFOLIO = {
    "id": "pf-1",
    "account_id": "acct-1",
    "cash": "400.00",
    "pending_withdrawal": "0",
    "holdings": [{"symbol": "SPY", "quantity": "1.2"}],
    "holdings_as_of": None,
    "blocked": True,
    "blocking_run": {
        "run_id": "OABC",
        "run_type": "invest_cash",
        "status": "QUEUED",
        "blocked_since": "2026-03-02T15:00:00Z",
    },
    "last_optimization_id": "OABC",
    "settings": {"mandate": "ADVISORY", "target_weights": [], "cash_buffer_percent": "2.5"},
}
OPTIMIZATION = {
    "id": "OADV",
    "portfolio_id": "pf-1",
    "status": "AWAITING_OWNER",
    "is_recommended": True,
    "run_type": "full_rebalance",
    "trigger": "drift_sweep",
    "orders": [{"leg": 0, "side": "buy", "symbol": "SPY", "qty": None, "notional": "600.00"}],
    "decision": [{"name": "drift_band", "met": True, "value": "7", "threshold": "5", "detail": ""}],
    "reasons": [{"code": "DRIFT", "detail": "SPY 7 pp over its band"}],
}


class FakeApi:
    """Answers like the api; remembers every request."""

    def __init__(self, pages: list[dict[str, Any]] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.pages = pages or [{"runs": [RUN], "next_page_token": None}]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        expected = "Basic " + base64.b64encode(b"k:s3cret").decode()
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, json={"code": 40110000, "message": "not authorized"})
        path = request.url.path
        if path == "/v1/rebalancing/runs":
            return httpx.Response(200, json=self.pages.pop(0))
        if path == "/v1/portfolios/pf-1":
            return httpx.Response(200, json=PORTFOLIO)
        if path == "/v1/portfolios/pf-1/optimizations/latest":
            return httpx.Response(200, json=OPTIMIZATION)
        if path == "/v1/portfolios/pf-1/optimizations":
            return httpx.Response(
                200, json={"optimizations": [OPTIMIZATION], "next_page_token": None}
            )
        return httpx.Response(404, json={"code": 40410000, "message": f"{path} not found"})


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REBAL_API_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "160")


def cli(capsys: pytest.CaptureFixture[str], api: FakeApi, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv), transport=httpx.MockTransport(api))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_table_with_the_filters_asked(capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi()
    code, out, _ = cli(
        capsys, api, "runs", "--status", "COMPLETED_SUCCESS", "--type", "full_rebalance"
    )
    assert code == 0
    assert "COMPLETED_SUCCESS" in out and "OABC" in out and "pf-1" in out and "1/1" in out
    [request] = api.requests
    assert request.url.host == "127.0.0.1" and request.url.port == 8000
    assert dict(request.url.params) == {
        "status": "COMPLETED_SUCCESS",
        "type": "full_rebalance",
        "limit": "50",
    }


def test_runs_follow_pages_up_to_the_limit(capsys: pytest.CaptureFixture[str]) -> None:
    second = {**RUN, "rebal_run_id": "ODEF"}
    api = FakeApi(
        [{"runs": [RUN], "next_page_token": "t1"}, {"runs": [second], "next_page_token": "t2"}]
    )
    code, out, _ = cli(capsys, api, "runs", "--account", RUN["id"], "--limit", "2", "--json")
    assert code == 0
    assert [r["rebal_run_id"] for r in json.loads(out)] == ["OABC", "ODEF"]
    assert [r.url.params.get("page_token") for r in api.requests] == [None, "t1"]
    assert api.requests[1].url.params["limit"] == "1"
    assert api.requests[0].url.params["account_id"] == RUN["id"]


def test_show_prints_book_block_and_settings(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, FakeApi(), "show", "pf-1")
    assert code == 0
    for text in ("portfolio pf-1", "400.00", "SPY", "1.2", "yes, by OABC", "ADVISORY", "2.5"):
        assert text in out, text


def test_optimization_prints_its_decision_record(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, FakeApi(), "optimization", "pf-1")
    assert code == 0
    for text in ("optimization OADV", "AWAITING_OWNER", "drift_band", "DRIFT", "600.00"):
        assert text in out, text
    code, out, _ = cli(capsys, FakeApi(), "optimization", "pf-1", "--list")
    assert code == 0 and "OADV" in out and "drift_sweep" in out


def test_the_apis_refusal_is_said(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, FakeApi(), "show", "pf-404")
    assert code == 1 and "404: /v1/portfolios/pf-404 not found" in err


def test_credentials_from_the_stacks_env_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ENV:
        monkeypatch.delenv(name)
    code, _, err = cli(capsys, FakeApi(), "show", "pf-1")
    assert code == 1 and "REBAL_API_KEY and REBAL_API_SECRET" in err
    env = tmp_path / "api.env"
    env.write_text(
        "REBAL_API_URL=http://127.0.0.1:4321\nREBAL_API_KEY=k\nREBAL_API_SECRET=s3cret\n"
    )
    api = FakeApi()
    code, _, _ = cli(capsys, api, "show", "pf-1", "--api-env", str(env))
    assert code == 0 and api.requests[0].url.port == 4321
    api = FakeApi()
    code, _, _ = cli(capsys, api, "show", "pf-1", "--api-env", str(env), "--api", "http://h:9")
    assert api.requests[0].url.host == "h"
    assert read_env_file(env)["REBAL_API_SECRET"] == "s3cret"
    assert "s3cret" not in repr(ApiConnection.resolve(env_file=env))


def test_an_unreachable_api(capsys: pytest.CaptureFixture[str]) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    code = main(["runs"], transport=httpx.MockTransport(down))
    assert code == 1 and "not reachable" in capsys.readouterr().err
    with pytest.raises(ApiUnavailable):
        read_env_file(Path("/nonexistent/api.env"))
