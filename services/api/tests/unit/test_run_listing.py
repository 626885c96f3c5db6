"""`GET /v1/rebalancing/runs` pages through the runs' listing (one indexed query a page): it
follows each run's status, a run whose `created_at` moved is listed once, a request once rebal's
run answers it is listed as that run only."""

from __future__ import annotations

from datetime import timedelta

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness, weights

RUNS = "/v1/rebalancing/runs"


async def listed(harness: Harness, **params: str) -> list[str]:
    page = (await harness.http.get(RUNS, params=params)).json()
    return [r["rebal_run_id"] or r["id"] for r in page["runs"]]


async def test_the_listing_follows_status_and_time(harness: Harness) -> None:
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    later = START + timedelta(hours=1)
    await harness.consume(rebal.ready("OMOVE", ACCOUNT, ACCOUNT, later))
    assert await listed(harness, status="QUEUED") == ["OMOVE"]
    await harness.consume(rebal.queued("OMOVE", ACCOUNT, ACCOUNT, START))  # earlier created_at
    assert await listed(harness) == ["OMOVE"]
    await harness.consume(rebal.completed("OMOVE", ACCOUNT, ACCOUNT, START))
    assert await listed(harness, status="QUEUED") == []
    assert await listed(harness, status="COMPLETED_SUCCESS") == ["OMOVE"]
    assert await listed(harness, status="COMPLETED_SUCCESS", type="full_rebalance") == []
    assert await listed(harness, account_id=ACCOUNT, status="COMPLETED_SUCCESS") == ["OMOVE"]
    live = await harness.store.query("run_list", "ref", "r|OMOVE")
    assert len(live) == 1


async def test_a_request_is_listed_until_its_run_is(harness: Harness) -> None:
    await harness.http.patch(f"/v1/portfolios/{ACCOUNT}", json={"account_id": ACCOUNT})
    own = {"account_id": ACCOUNT, "type": "full_rebalance", "weights": weights(SPY=50, cash=50)}
    asked = await harness.http.post(RUNS, json=own)
    assert asked.status_code == 200, asked.text
    [request] = harness.published("rebalance.requested")
    assert await listed(harness, status="QUEUED") == [asked.json()["id"]]
    at = START + timedelta(minutes=1)
    await harness.consume(
        rebal.created("OREQ", ACCOUNT, ACCOUNT, at, cause=request.event_id, initiated="api"),
        rebal.ready("OREQ", ACCOUNT, ACCOUNT, at, cause=request.event_id, initiated="api"),
    )
    page = (await harness.http.get(RUNS)).json()["runs"]
    assert [(r["id"], r["rebal_run_id"]) for r in page] == [(asked.json()["id"], "OREQ")]
