"""`Idempotency-Key`: a repeated key gets the first answer and publishes nothing new."""

from __future__ import annotations

import asyncio

from .conftest import ACCOUNT, MODEL, Harness, weights

PORTFOLIOS = "/v1/rebalancing/portfolios"


async def test_a_repeated_key_replays_the_first_answer(harness: Harness) -> None:
    key = {"Idempotency-Key": "create-balanced-1"}
    first = await harness.http.post(PORTFOLIOS, json=MODEL, headers=key)
    again = await harness.http.post(PORTFOLIOS, json=MODEL, headers=key)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len(harness.published()) == 1
    assert len((await harness.http.get(PORTFOLIOS)).json()) == 1
    other = await harness.http.post(PORTFOLIOS, json=MODEL, headers={"Idempotency-Key": "2"})
    assert other.json()["id"] != first.json()["id"] and len(harness.published()) == 2


async def test_a_key_reused_for_another_request_is_refused(harness: Harness) -> None:
    key = {"Idempotency-Key": "k"}
    await harness.http.post(PORTFOLIOS, json=MODEL, headers=key)
    changed = {**MODEL, "weights": weights(SPY="100")}
    refused = await harness.http.post(PORTFOLIOS, json=changed, headers=key)
    assert refused.status_code == 422 and "different request" in refused.json()["message"]
    assert len(harness.published()) == 1


async def test_every_write_takes_a_key(harness: Harness) -> None:
    model = await harness.portfolio()
    body = {"account_id": ACCOUNT, "portfolio_id": model["id"]}
    key = {"Idempotency-Key": "subscribe"}
    sub = await harness.http.post("/v1/rebalancing/subscriptions", json=body, headers=key)
    # the account is subscribed now, yet the same request gets its first answer, not a 422
    replay = await harness.http.post("/v1/rebalancing/subscriptions", json=body, headers=key)
    assert replay.status_code == 200 and replay.json() == sub.json()
    run = {"account_id": ACCOUNT, "type": "full_rebalance"}
    r1 = await harness.http.post("/v1/rebalancing/runs", json=run, headers={"Idempotency-Key": "r"})
    r2 = await harness.http.post("/v1/rebalancing/runs", json=run, headers={"Idempotency-Key": "r"})
    assert r1.json() == r2.json() and r1.status_code == 200
    path = f"/v1/rebalancing/subscriptions/{sub.json()['id']}"
    d1 = await harness.http.delete(path, headers={"Idempotency-Key": "d"})
    d2 = await harness.http.delete(path, headers={"Idempotency-Key": "d"})
    assert d1.status_code == d2.status_code == 204
    assert [e.TOPIC for e in harness.published()] == [
        "model.updated",
        "portfolio.patched",
        "rebalance.requested",
        "portfolio.patched",
    ]


async def test_concurrent_requests_with_one_key_publish_once(harness: Harness) -> None:
    key = {"Idempotency-Key": "race"}
    answers = await asyncio.gather(
        *(harness.http.post(PORTFOLIOS, json=MODEL, headers=key) for _ in range(5))
    )
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1
    assert len(harness.published()) == 1


async def test_a_refused_request_records_nothing(harness: Harness) -> None:
    key = {"Idempotency-Key": "early"}
    run = {"account_id": ACCOUNT, "type": "full_rebalance"}
    assert (
        await harness.http.post("/v1/rebalancing/runs", json=run, headers=key)
    ).status_code == 422
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    assert (
        await harness.http.post("/v1/rebalancing/runs", json=run, headers=key)
    ).status_code == 200
