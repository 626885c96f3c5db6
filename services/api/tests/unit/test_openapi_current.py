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


def test_it_documents_every_alpaca_path() -> None:
    paths = json.loads(render())["paths"]
    assert set(paths) == {
        "/v1/rebalancing/portfolios",
        "/v1/rebalancing/portfolios/{portfolio_id}",
        "/v1/rebalancing/subscriptions",
        "/v1/rebalancing/subscriptions/{subscription_id}",
        "/v1/rebalancing/runs",
        "/v1/rebalancing/runs/{run_id}",
        "/v2/events/rebalancer",
    }
    assert set(paths["/v1/rebalancing/portfolios/{portfolio_id}"]) == {"get", "patch", "delete"}
    assert set(paths["/v1/rebalancing/runs/{run_id}"]) == {"get", "delete"}
