"""The api fuzzed from its own OpenAPI document with schemathesis: every operation, a bounded
number of generated requests each (valid and invalid), over the ASGI app on the in-memory store
with a fixed clock (deterministic: Hypothesis derandomized, no example database; 30 examples an
operation, `REBAL_FUZZ_EXAMPLES` for a deeper run). Each answer must not be a 5xx and must match
the document (status code, content type, schema).

The store is seeded first with a model, a subscription, runs of rebal's services, a portfolio
with its holdings, optimizations and transactions, and half the generated path ids are replaced
by those known ids, so the reads and writes of existing resources are fuzzed too, not only
their 404s. `GET /v2/events/rebalancer` is left out: an open stream never ends
(`tests/unit/test_stream.py` covers it).
"""

from __future__ import annotations

import asyncio
import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from rebal_api.bootstrap import bootstrap
from rebal_api.settings import ApiSettings
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import InMemoryStore
from rebal_schemas import (
    ConditionEvaluation,
    OptimizationStatus,
    PortfolioSettingsChanged,
    Reason,
)

from ..unit import rebal_events as rebal

KEY, SECRET = "fuzz-key", "fuzz-secret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()}
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ACCOUNT = "5b7a5f3e-3c1d-4b8e-9a52-0c8f1d2e3a4b"
MODEL = {
    "name": "Balanced",
    "weights": [
        {"type": "asset", "symbol": "SPY", "percent": "60"},
        {"type": "cash", "percent": "40"},
    ],
    "rebalance_conditions": [{"type": "drift_band", "sub_type": "absolute", "percent": "5"}],
}

api = bootstrap(
    ApiSettings(api_key=KEY, api_secret=SECRET), store=InMemoryStore(), clock=FakeClock(START)
)
app = api.http_app()


def _seed() -> dict[str, list[str]]:
    """What the path parameters may name: ids that exist in the store."""
    http = TestClient(app, headers=AUTH)
    model = http.post("/v1/rebalancing/portfolios", json=MODEL).json()
    body = {"account_id": ACCOUNT, "portfolio_id": model["id"]}
    subscription = http.post("/v1/rebalancing/subscriptions", json=body).json()
    advisory = {"account_id": "acct-1", "settings": {"mandate": "ADVISORY"}}
    http.patch("/v1/portfolios/pf-1", json=advisory)
    snapshot = {"holdings": [{"symbol": "SPY", "quantity": "3"}], "cash": "900.00"}
    http.patch("/v1/portfolios/pf-1", json=snapshot)
    later = START + timedelta(hours=1)
    waiting = rebal.created(
        "OWAIT", "pf-1", "acct-1", later, status=OptimizationStatus.AWAITING_OWNER
    ).model_copy(
        update={
            "reasons": (Reason(code="DRIFT", detail="SPY 7 pp over"),),
            "decision": (ConditionEvaluation(name="drift_band", met=True, value="7"),),
        }
    )
    events = [
        PortfolioSettingsChanged(portfolio_id="pf-1", account_id="acct-1"),
        rebal.created("ORUN", "pf-1", "acct-1", START),
        rebal.ready("ORUN", "pf-1", "acct-1", START),
        rebal.queued("ORUN", "pf-1", "acct-1", START),
        rebal.completed("ORUN", "pf-1", "acct-1", START),
        rebal.leg_settled("ORUN", "pf-1", START),
        rebal.created("OSYS", ACCOUNT, ACCOUNT, START),
        rebal.ready("OSYS", ACCOUNT, ACCOUNT, START),
        waiting,
    ]
    asyncio.run(api.projector.project(events))
    runs = http.get("/v1/rebalancing/runs").json()["runs"]
    return {
        "portfolio_id": [model["id"], "pf-1", ACCOUNT],
        "subscription_id": [subscription["id"]],
        "run_id": [r["id"] for r in runs],
        "optimization_id": ["OWAIT", "ORUN"],
    }


KNOWN = _seed()
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v2/events/rebalancer")


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    """Each generated id, or one the store knows."""
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.one_of(st.just(value), st.sampled_from(KNOWN[name]))
            if name in KNOWN
            else st.just(value)
            for name, value in path_parameters.items()
        }
    )


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("REBAL_FUZZ_EXAMPLES", "30")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_every_answer_matches_the_document(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=AUTH,
        checks=[
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.response_schema_conformance,
        ],
    )
