"""The committed OpenAPI document is what the api generates now (`make asyncapi` writes it)."""

from __future__ import annotations

import json
from pathlib import Path

from rebal_api.entrypoints.openapi import render

ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "docs" / "openapi" / "api.json"


def test_committed_openapi_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), (
        "docs/openapi/api.json is stale: run `make asyncapi` "
        "(or python -m rebal_api.entrypoints.openapi docs/openapi/api.json)"
    )


def test_it_documents_every_path() -> None:
    paths = json.loads(render())["paths"]
    assert set(paths) == {
        "/v1/rebalancing/portfolios",
        "/v1/rebalancing/portfolios/{portfolio_id}",
        "/v1/rebalancing/subscriptions",
        "/v1/rebalancing/subscriptions/{subscription_id}",
        "/v1/rebalancing/runs",
        "/v1/rebalancing/runs/{run_id}",
        "/v2/events/rebalancer",
        "/v1/portfolios/{portfolio_id}",
        "/v1/portfolios/{portfolio_id}/deposits",
        "/v1/portfolios/{portfolio_id}/withdrawals",
        "/v1/portfolios/{portfolio_id}/optimizations",
        "/v1/portfolios/{portfolio_id}/optimizations/latest",
        "/v1/portfolios/{portfolio_id}/optimizations/{optimization_id}/decision",
        "/v1/portfolios/{portfolio_id}/transactions",
    }
    assert set(paths["/v1/rebalancing/portfolios/{portfolio_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/rebalancing/runs/{run_id}"]) == {"get", "delete"}
