"""The dashboard (`/ui`): its view-models from the read model, its pages and actions, behind the
api's auth and out of its OpenAPI document."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx

from rebal_api.domain import dashboard as ui
from rebal_api.service_layer.dashboard import RunFilter
from rebal_schemas import (
    ConditionEvaluation,
    ModelStatus,
    ModelStatusChanged,
    ModelUpdated,
    OptimizationStatus,
    PortfolioSettingsChanged,
    RebalanceRequested,
    RunInitiator,
    RunType,
    Weight,
)

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness

DRIFTED = (
    ConditionEvaluation(
        name="position.SPY",
        met=True,
        value="3",
        threshold="60",
        detail="price=100 weight=72.5 absolute=12.5 relative=20.8",
    ),
    ConditionEvaluation(name="position.cash", met=False, value="100", threshold="40", detail=""),
)


async def portfolio(harness: Harness, pid: str, account: str | None = None, **more: object) -> None:
    await harness.consume(
        PortfolioSettingsChanged(portfolio_id=pid, account_id=account or f"acct-{pid}", **more)  # type: ignore[arg-type]
    )
    await harness.http.patch(f"/v1/portfolios/{pid}", json={"holdings": [], "cash": "1000.00"})


async def states(harness: Harness) -> dict[str, str]:
    page = await harness.api.services.dashboard.overview()
    return {p.portfolio_id: s for s, rows in page.by_state.items() for p in rows}


async def test_each_portfolio_has_one_state_from_the_read_model(harness: Harness) -> None:
    for pid in ("p-band", "p-drift", "p-block", "p-owner", "p-new", "p-adj"):
        await portfolio(harness, pid)
    quiet = rebal.created(
        "O1", "p-band", "acct-p-band", START, status=OptimizationStatus.NOT_RECOMMENDED
    )
    drift = rebal.created(
        "O2", "p-drift", "acct-p-drift", START, status=OptimizationStatus.NOT_RECOMMENDED
    ).model_copy(update={"decision": DRIFTED})
    await harness.consume(
        quiet,
        drift,
        rebal.created("O3", "p-block", "acct-p-block", START),
        rebal.ready("O3", "p-block", "acct-p-block", START),
        rebal.created(
            "O4", "p-owner", "acct-p-owner", START, status=OptimizationStatus.AWAITING_OWNER
        ),
        ModelUpdated(
            model_id="m-1",
            name="Growth",
            weights=(Weight(type="asset", symbol="SPY", percent=Decimal(100)),),
            producer="test",
        ),
        PortfolioSettingsChanged(portfolio_id="p-adj", model_id="m-1"),
        ModelStatusChanged(
            model_id="m-1",
            status=ModelStatus.needs_adjustment,
            previous_status=ModelStatus.active,
            symbols=("SPY",),
            producer="optimizer",
        ),
    )
    assert await states(harness) == {
        "p-band": "in_band",
        "p-drift": "drifting",
        "p-block": "blocked",
        "p-owner": "awaiting_owner",
        "p-new": "not_evaluated",
        "p-adj": "needs_adjustment",
    }
    page = await harness.api.services.dashboard.overview()
    assert [(s, n) for s, _, n in page.states] == [(s, 1) for s in ui.STATES]
    assert page.lag.applied_at == START and page.lag.events > 0
    (model,) = await harness.api.services.dashboard.models()
    assert model.subscribers == 1 and model.model.ineligible == ("SPY",)
    html = (await harness.http.get("/ui/models")).text
    assert 'class="offending">SPY' in html


async def test_the_drift_chart_gets_current_and_target_weights_and_bands(harness: Harness) -> None:
    await portfolio(harness, "p-drift")
    drift = rebal.created(
        "O2", "p-drift", "acct-p-drift", START, status=OptimizationStatus.NOT_RECOMMENDED
    ).model_copy(update={"decision": DRIFTED})
    await harness.consume(drift)
    page = await harness.api.services.dashboard.portfolio("p-drift")
    assert page is not None
    assert page.chart["labels"] == ["SPY", "cash"]
    assert page.chart["current"] == [72.5, None] and page.chart["target"] == [60.0, 40.0]
    html = (await harness.http.get("/ui/portfolios/p-drift")).text
    assert "position.SPY" in html and "drifting beyond band" in html


async def test_the_inbox_lists_proposals_oldest_first_with_time_left(harness: Harness) -> None:
    for pid in ("p-a", "p-b"):
        await portfolio(harness, pid)
    late = rebal.created(
        "OB",
        "p-b",
        "acct-p-b",
        START + timedelta(minutes=5),
        status=OptimizationStatus.AWAITING_OWNER,
    ).model_copy(update={"expires_at": START + timedelta(hours=2)})
    early = rebal.created("OA", "p-a", "acct-p-a", START, status=OptimizationStatus.AWAITING_OWNER)
    await harness.consume(late, early)
    proposals = await harness.api.services.dashboard.inbox()
    assert [p.optimization.optimization_id for p in proposals] == ["OA", "OB"]
    assert [p.time_left for p in proposals] == ["no expiry", "2h 00m"]
    html = (await harness.http.get("/ui/inbox")).text
    assert 'data-decide="ACCEPT"' in html and 'data-optimization="OB"' in html


async def test_runs_filter_and_only_open_rebal_runs_can_be_canceled(harness: Harness) -> None:
    await portfolio(harness, "p-1", "acct-1")
    await harness.consume(
        rebal.queued("OQ", "p-1", "acct-1", START),
        rebal.ready("OD", "p-1", "acct-1", START - timedelta(days=1)),
        rebal.completed("OD", "p-1", "acct-1", START - timedelta(days=1)),
    )
    pages = harness.api.services.dashboard
    every = (await pages.runs(RunFilter())).rows
    assert [(r.run_id, r.status, r.cancelable) for r in every] == [
        ("OQ", "QUEUED", True),
        ("OD", "COMPLETED_SUCCESS", False),
    ]
    assert [r.run_id for r in (await pages.runs(RunFilter(status="QUEUED"))).rows] == ["OQ"]
    yesterday = RunFilter(day=(START - timedelta(days=1)).date(), account="p-1")
    assert [r.run_id for r in (await pages.runs(yesterday)).rows] == ["OD"]
    assert (await pages.runs(RunFilter(account="p-2"))).rows == []
    overview = await pages.overview()
    assert [r.run_id for r in overview.queued] == ["OQ"]
    assert dict(overview.runs_today)["QUEUED"] == 1
    html = (await harness.http.get("/ui/runs", params={"status": "QUEUED"})).text
    assert html.count('data-cancel="') == 1
    partial = await harness.http.get("/ui/runs", headers={"HX-Request": "true"})
    assert "<html" not in partial.text and 'data-testid="runs-table"' in partial.text


async def test_a_manual_run_from_the_dashboard_is_initiated_from_dashboard(
    harness: Harness,
) -> None:
    await harness.consume(PortfolioSettingsChanged(portfolio_id="p-m", account_id=ACCOUNT))
    body = {
        "account_id": ACCOUNT,
        "type": "full_rebalance",
        "weights": [
            {"type": "asset", "symbol": "SPY", "percent": 60},
            {"type": "cash", "percent": 40},
        ],
    }
    answer = await harness.http.post("/ui/runs", json=body, headers={"Idempotency-Key": "k-1"})
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "QUEUED" and run["rebal_initiated_from"] == "dashboard"
    (event,) = harness.published(RebalanceRequested.TOPIC)
    assert isinstance(event, RebalanceRequested)
    assert event.initiated_from is RunInitiator.dashboard
    # rebal's run for it keeps the request's id
    made = rebal.ready(
        "OMAN",
        "p-m",
        ACCOUNT,
        START,
        cause=event.event_id,
        initiated=RunInitiator.dashboard,
        run_type=RunType.full_rebalance,
    )
    await harness.consume(made)
    shown = (await harness.http.get(f"/v1/rebalancing/runs/{run['id']}")).json()
    assert shown["rebal_run_id"] == "OMAN" and shown["rebal_initiated_from"] == "dashboard"
    rows = (await harness.api.services.dashboard.runs(RunFilter())).rows
    assert [(r.run_id, r.initiated_from, r.request) for r in rows] == [("OMAN", "dashboard", False)]


async def test_the_pages_need_the_api_auth_and_stay_out_of_the_openapi(harness: Harness) -> None:
    app = harness.api.http_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as bare:
        for path in ("/ui", "/ui/runs", "/ui/inbox", "/ui/models", "/ui/static/rebal.js"):
            assert (await bare.get(path)).status_code == 401, path
    for path in ("/ui", "/ui/runs", "/ui/inbox", "/ui/models"):
        answer = await harness.http.get(path)
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"], path
    script = await harness.http.get("/ui/static/vendor/htmx.min.js")
    assert script.status_code == 200 and len(script.content) > 10_000
    assert (await harness.http.get("/ui/static/../bootstrap.py")).status_code == 404
    assert (await harness.http.get("/ui/portfolios/nope")).status_code == 404
    assert not [p for p in app.openapi()["paths"] if p.startswith("/ui")]


async def test_dead_letters_of_the_last_hour_are_counted_and_listed(harness: Harness) -> None:
    from rebal_schemas import MessageDeadLettered

    def letter(minutes_ago: int, topic: str) -> MessageDeadLettered:
        return MessageDeadLettered(
            original_topic=topic,
            partition=0,
            offset=minutes_ago,
            original_value_b64="e30=",
            consumer_group="optimizer",
            error_type="SchemaViolation",
            reason=f"{topic}: field required " + "x" * 1000,
            failed_at=harness.clock.now() - timedelta(minutes=minutes_ago),
            producer="optimizer",
        )

    old, recent, newest = (
        letter(90, "model.updated"),
        letter(30, "portfolio.patched"),
        letter(5, "rebalance.requested"),
    )
    await harness.consume(old, recent, newest, newest)  # the last one redelivered
    page = await harness.api.services.dashboard.overview()
    assert [d.topic for d in page.dead_letters] == ["rebalance.requested", "portfolio.patched"]
    assert all(len(d.reason) <= 300 for d in page.dead_letters)
    html = (await harness.http.get("/ui")).text
    assert 'data-testid="dead-letter-list"' in html and "rebalance.requested" in html
