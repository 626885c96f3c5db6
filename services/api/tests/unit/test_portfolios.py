"""`/v1/rebalancing/portfolios`: rebal models as Alpaca portfolios; auth and error shapes."""

from __future__ import annotations

import httpx

from rebal_schemas import (
    ModelStatus,
    ModelStatusChanged,
    ModelUpdated,
    RejectionCode,
    RequestRejected,
)

from .conftest import ACCOUNT, MODEL, Harness, weights

PORTFOLIOS = "/v1/rebalancing/portfolios"


async def test_create_publishes_model_updated_and_reads_it_back_at_once(harness: Harness) -> None:
    created = await harness.portfolio()
    [event] = harness.published("model.updated")
    assert isinstance(event, ModelUpdated)
    assert event.model_id == created["id"] == created["rebal_model_id"]
    assert event.producer == "api"
    assert [str(w.percent) for w in event.weights] == ["60.0", "35", "5"]  # numbers and strings
    assert created["status"] == "active" and created["cooldown_days"] == 7
    assert created["weights"][2] == {"type": "cash", "symbol": None, "percent": "5"}
    got = await harness.http.get(f"{PORTFOLIOS}/{created['id']}")
    assert got.status_code == 200 and got.json() == created
    assert (await harness.http.get(PORTFOLIOS)).json() == [created]


async def test_the_api_refuses_what_rebal_refuses_with_422(harness: Harness) -> None:
    bad = {**MODEL, "weights": weights(SPY=60, cash=30)}
    answer = await harness.http.post(PORTFOLIOS, json=bad)
    assert answer.status_code == 422
    assert answer.json()["code"] == 42210000
    assert "sum to exactly 100" in answer.json()["message"]
    two_calendars = {
        **MODEL,
        "rebalance_conditions": [
            {"type": "calendar", "sub_type": "monthly", "day": 1},
            {"type": "calendar", "sub_type": "weekly", "day": "Monday"},
        ],
    }
    assert (await harness.http.post(PORTFOLIOS, json=two_calendars)).status_code == 422
    assert harness.published() == []


async def test_a_malformed_request_is_400_in_alpacas_shape(harness: Harness) -> None:
    answer = await harness.http.post(PORTFOLIOS, json={"name": "x"})
    assert answer.status_code == 400
    assert answer.json()["code"] == 40010000 and "weights" in answer.json()["message"]
    assert (await harness.http.get(f"{PORTFOLIOS}/not-a-uuid")).status_code == 400
    missing = await harness.http.get(f"{PORTFOLIOS}/{ACCOUNT}")
    assert missing.status_code == 404 and missing.json()["code"] == 40410000


async def test_every_path_needs_the_key_and_secret(harness: Harness) -> None:
    app = harness.http._transport
    async with httpx.AsyncClient(transport=app, base_url="http://api") as anonymous:
        answer = await anonymous.get(PORTFOLIOS)
        assert answer.status_code == 401
        assert answer.json() == {
            "code": 40110000,
            "message": "request is not authorized: HTTP Basic with the api key and secret",
        }
        assert answer.headers["www-authenticate"].startswith("Basic")
        wrong = await anonymous.get(PORTFOLIOS, auth=("test-key", "guess"))
        assert wrong.status_code == 401
        assert (await anonymous.get("/health")).status_code == 200


async def test_list_filters_combine_with_and(harness: Harness) -> None:
    a = await harness.portfolio()
    b = await harness.portfolio({**MODEL, "name": "Bonds", "weights": weights(TLT=100)})
    http = harness.http
    assert [p["id"] for p in (await http.get(PORTFOLIOS, params={"symbol": "SPY"})).json()] == [
        a["id"]
    ]
    assert [p["id"] for p in (await http.get(PORTFOLIOS, params={"name": "Bonds"})).json()] == [
        b["id"]
    ]
    both = {"symbol": "TLT", "description": "60/40"}
    assert len((await http.get(PORTFOLIOS, params=both)).json()) == 2
    assert (await http.get(PORTFOLIOS, params={"name": "Bonds", "symbol": "SPY"})).json() == []
    by_id = (await http.get(PORTFOLIOS, params={"portfolio_id": b["id"]})).json()
    assert [p["id"] for p in by_id] == [b["id"]]
    assert (await http.get(PORTFOLIOS, params={"status": "inactive"})).json() == []


async def test_patch_keeps_what_it_does_not_name_and_repairs_needs_adjustment(
    harness: Harness,
) -> None:
    created = await harness.portfolio()
    await harness.consume(
        ModelStatusChanged(
            model_id=created["id"],
            status=ModelStatus.needs_adjustment,
            previous_status=ModelStatus.active,
            producer="optimizer",
        )
    )
    shown = (await harness.http.get(f"{PORTFOLIOS}/{created['id']}")).json()
    assert shown["status"] == "needs_adjustment"
    patched = await harness.http.patch(
        f"{PORTFOLIOS}/{created['id']}", json={"weights": weights(VTI=95, cash=5)}
    )
    assert patched.status_code == 200
    body = patched.json()
    assert body["status"] == "active"
    assert body["name"] == "Balanced" and body["cooldown_days"] == 7
    assert [w["symbol"] for w in body["weights"]] == ["VTI", None]
    assert body["rebalance_conditions"] == created["rebalance_conditions"]
    assert body["created_at"] == created["created_at"]
    last = harness.published("model.updated")[-1]
    assert isinstance(last, ModelUpdated) and last.status is ModelStatus.active


async def test_delete_inactivates_refused_while_subscribed(harness: Harness) -> None:
    created = await harness.portfolio()
    sub = await harness.subscribe(created["id"])
    refused = await harness.http.delete(f"{PORTFOLIOS}/{created['id']}")
    assert refused.status_code == 422 and "active subscriptions" in refused.json()["message"]
    assert len(harness.published("model.updated")) == 1
    assert (
        await harness.http.delete(f"/v1/rebalancing/subscriptions/{sub['id']}")
    ).status_code == 204
    done = await harness.http.delete(f"{PORTFOLIOS}/{created['id']}")
    assert done.status_code == 204 and done.content == b""
    last = harness.published("model.updated")[-1]
    assert isinstance(last, ModelUpdated) and last.status is ModelStatus.inactive
    shown = (await harness.http.get(f"{PORTFOLIOS}/{created['id']}")).json()
    assert shown["status"] == "inactive"
    again = await harness.http.delete(f"{PORTFOLIOS}/{created['id']}")
    assert again.status_code == 204
    assert len(harness.published("model.updated")) == 2  # nothing new for an inactive one


async def test_a_refused_deactivation_restores_the_status(harness: Harness) -> None:
    created = await harness.portfolio()
    await harness.http.delete(f"{PORTFOLIOS}/{created['id']}")
    deactivation = harness.published("model.updated")[-1]
    await harness.consume(
        RequestRejected(
            reason_code=RejectionCode.MODEL_IN_USE,
            message="model has subscribers",
            request_event_type="model.updated",
            model_id=created["id"],
            causation_id=deactivation.event_id,
            producer="optimizer",
        )
    )
    shown = (await harness.http.get(f"{PORTFOLIOS}/{created['id']}")).json()
    assert shown["status"] == "active"


async def test_models_from_other_clients_get_a_stable_uuid(harness: Harness) -> None:
    event = ModelUpdated(
        model_id="growth",
        name="Growth",
        weights=ModelUpdated.model_validate(
            {"model_id": "x", "name": "x", "weights": weights(SPY="100")}
        ).weights,
    )
    await harness.consume(event)
    await harness.consume(event)  # a redelivery changes nothing
    [shown] = (await harness.http.get(PORTFOLIOS)).json()
    assert shown["rebal_model_id"] == "growth"
    again = (await harness.http.get(f"{PORTFOLIOS}/{shown['id']}")).json()
    assert again == shown
    doc = await harness.store.load("models", "growth")
    assert doc is not None and doc.version == 1
