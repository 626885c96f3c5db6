"""`/v1/rebalancing/runs`: rebal runs as Alpaca runs; manual runs; cancel."""

from __future__ import annotations

from datetime import timedelta

from rebal_schemas import (
    OptimizationStatus,
    Reason,
    RebalanceRequested,
    RejectionCode,
    RequestRejected,
    RunCancelRequested,
    RunInitiator,
    RunType,
)

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness, weights

RUNS = "/v1/rebalancing/runs"
OWN = weights(SPY="50", cash="50")


async def subscribed(harness: Harness) -> tuple[dict, dict]:
    model = await harness.portfolio()
    return model, await harness.subscribe(model["id"])


async def system_run(
    harness: Harness,
    run_id: str,
    *,
    run_type: RunType = RunType.invest_cash,
    initiated: RunInitiator = RunInitiator.system,
    at=START,
) -> None:
    args = (run_id, ACCOUNT, ACCOUNT, at)
    await harness.consume(
        rebal.created(*args, run_type=run_type, initiated=initiated),
        rebal.ready(*args, run_type=run_type, initiated=initiated),
        rebal.queued(*args, run_type=run_type, initiated=initiated),
        rebal.completed(*args, run_type=run_type, initiated=initiated),
    )


async def test_a_system_run_reads_as_alpacas_run_with_its_orders(harness: Harness) -> None:
    model, sub = await subscribed(harness)
    await system_run(harness, "OABC")
    page = (await harness.http.get(RUNS)).json()
    assert page["next_page_token"] is None
    [run] = page["runs"]
    assert run["status"] == "COMPLETED_SUCCESS" and run["type"] == "invest_cash"
    assert run["account_id"] == ACCOUNT and run["portfolio_id"] == model["id"]
    assert run["initiated_from"] == "system" and run["rebal_run_id"] == "OABC"
    [order] = run["orders"]
    assert order["symbol"] == "SPY" and order["status"] == "filled"
    assert order["filled_qty"] == "1.2" and order["notional"] == "600.00"
    assert order["client_order_id"] == "OABC-0" and order["time_in_force"] == "day"
    assert (await harness.http.get(f"{RUNS}/{run['id']}")).json() == run
    got = (await harness.http.get(f"/v1/rebalancing/subscriptions/{sub['id']}")).json()
    assert got["last_rebalanced_at"] == run["completed_at"]
    await harness.consume(
        rebal.settled("OABC", ACCOUNT, ACCOUNT, START + timedelta(days=1)),
        rebal.leg_settled("OABC", ACCOUNT, START),
    )
    after = (await harness.http.get(f"{RUNS}/{run['id']}")).json()
    assert after["settled_at"] is not None and after["orders"][0]["transaction_status"] == "SETTLED"


async def test_events_in_any_order_and_twice_give_one_run(harness: Harness) -> None:
    await subscribed(harness)
    args = ("OXYZ", ACCOUNT, ACCOUNT, START)
    done = rebal.completed(*args)
    await harness.consume(done, rebal.queued(*args), rebal.ready(*args), done, rebal.created(*args))
    [run] = (await harness.http.get(RUNS)).json()["runs"]
    assert run["status"] == "COMPLETED_SUCCESS" and len(run["orders"]) == 1
    assert run["created_at"] == "2026-03-02T15:00:00Z"


async def test_listing_is_newest_first_in_pages_with_filters(harness: Harness) -> None:
    await subscribed(harness)
    for i in range(5):
        await system_run(harness, f"O{i}", at=START + timedelta(minutes=i))
    ids, token = [], None
    while True:
        params = {"limit": 2, **({"page_token": token} if token else {})}
        page = (await harness.http.get(RUNS, params=params)).json()
        ids += [r["rebal_run_id"] for r in page["runs"]]
        if (token := page["next_page_token"]) is None:
            break
    assert ids == ["O4", "O3", "O2", "O1", "O0"]
    assert (await harness.http.get(RUNS, params={"status": "QUEUED"})).json()["runs"] == []
    assert (
        len(
            (
                await harness.http.get(RUNS, params={"type": "invest_cash", "account_id": ACCOUNT})
            ).json()["runs"]
        )
        == 5
    )
    assert (await harness.http.get(RUNS, params={"type": "full_rebalance"})).json()["runs"] == []


async def test_withdrawals_are_listed_only_when_asked_for_and_dashboard_reads_null(
    harness: Harness,
) -> None:
    await subscribed(harness)
    await system_run(harness, "OWD", run_type=RunType.withdrawal)
    await system_run(
        harness, "ODASH", initiated=RunInitiator.dashboard, at=START + timedelta(minutes=1)
    )
    listed = (await harness.http.get(RUNS)).json()["runs"]
    assert [r["rebal_run_id"] for r in listed] == ["ODASH"]
    assert listed[0]["initiated_from"] is None and listed[0]["rebal_initiated_from"] == "dashboard"
    asked = (await harness.http.get(RUNS, params={"type": "partial_liquidation"})).json()["runs"]
    assert [(r["rebal_run_id"], r["type"]) for r in asked] == [("OWD", "partial_liquidation")]


async def test_a_manual_run_is_queued_then_becomes_rebals_run(harness: Harness) -> None:
    _, sub = await subscribed(harness)
    await harness.http.delete(f"/v1/rebalancing/subscriptions/{sub['id']}")
    answer = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance", "weights": OWN}
    )
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "QUEUED" and run["initiated_from"] == "api"
    assert run["portfolio_id"] == "00000000-0000-0000-0000-000000000000"  # own weights
    [request] = harness.published("rebalance.requested")
    assert isinstance(request, RebalanceRequested)
    assert (request.scope, request.portfolio_id, request.reason.value) == (
        "portfolio",
        ACCOUNT,
        "manual",
    )
    assert request.initiated_from is RunInitiator.api and request.weights is not None
    assert (await harness.http.get(f"{RUNS}/{run['id']}")).json() == run
    second = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance", "weights": OWN}
    )
    assert second.status_code == 422 and "not final" in second.json()["message"]
    cancel = await harness.http.delete(f"{RUNS}/{run['id']}")
    assert cancel.status_code == 422 and "being prepared" in cancel.json()["message"]
    # rebal's run names the request: the same Alpaca id, rebal's data from now on
    at = START + timedelta(seconds=1)
    api = RunInitiator.api
    await harness.consume(
        rebal.queued("OMAN", ACCOUNT, ACCOUNT, at, initiated=api, run_type=RunType.full_rebalance)
    )
    still = (await harness.http.get(RUNS)).json()["runs"]
    assert [(r["id"], r["rebal_run_id"]) for r in still] == [(run["id"], None)]
    await harness.consume(
        rebal.ready(
            "OMAN",
            ACCOUNT,
            ACCOUNT,
            at,
            cause=request.event_id,
            initiated=api,
            run_type=RunType.full_rebalance,
        ),
        rebal.completed(
            "OMAN", ACCOUNT, ACCOUNT, at, initiated=api, run_type=RunType.full_rebalance
        ),
    )
    [done] = (await harness.http.get(RUNS)).json()["runs"]
    assert done["id"] == run["id"] and done["rebal_run_id"] == "OMAN"
    assert done["status"] == "COMPLETED_SUCCESS" and done["initiated_from"] == "api"
    final = await harness.http.delete(f"{RUNS}/{run['id']}")
    assert final.status_code == 422 and "final" in final.json()["message"]
    again = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "invest_cash", "weights": OWN}
    )
    assert again.status_code == 200


async def test_manual_run_rules(harness: Harness) -> None:
    unknown = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance", "weights": OWN}
    )
    assert unknown.status_code == 422
    model, sub = await subscribed(harness)
    own = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance", "weights": OWN}
    )
    assert own.status_code == 422 and "active subscription" in own.json()["message"]
    bad_type = await harness.http.post(
        RUNS, json={"account_id": ACCOUNT, "type": "partial_liquidation"}
    )
    assert bad_type.status_code == 400
    follow = await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    assert follow.status_code == 200
    assert [w["symbol"] for w in follow.json()["weights"]] == ["SPY", "TLT", None]  # the model's
    assert follow.json()["portfolio_id"] == model["id"]
    await harness.http.delete(f"/v1/rebalancing/subscriptions/{sub['id']}")
    nothing = await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    assert nothing.status_code == 422


async def test_a_refused_or_fruitless_request_ends_in_error(harness: Harness) -> None:
    await subscribed(harness)
    first = (
        await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    ).json()
    [request] = harness.published("rebalance.requested")
    await harness.consume(
        RequestRejected(
            reason_code=RejectionCode.BLOCKED,
            message="portfolio is blocked",
            request_event_type="rebalance.requested",
            portfolio_id=ACCOUNT,
            causation_id=request.event_id,
            producer="optimizer",
        )
    )
    shown = (await harness.http.get(f"{RUNS}/{first['id']}")).json()
    assert shown["status"] == "ERROR" and shown["reason"] == "BLOCKED: portfolio is blocked"
    second = (
        await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    ).json()
    request = harness.published("rebalance.requested")[-1]
    nothing = rebal.created(
        "ONONE",
        ACCOUNT,
        ACCOUNT,
        START,
        cause=request.event_id,
        status=OptimizationStatus.NOT_RECOMMENDED,
        initiated=RunInitiator.api,
    )
    await harness.consume(
        nothing.model_copy(update={"reasons": (Reason(code="IN_BAND", detail="no drift"),)})
    )
    shown = (await harness.http.get(f"{RUNS}/{second['id']}")).json()
    assert shown["status"] == "ERROR" and shown["reason"] == "IN_BAND: no drift"


async def test_cancel_publishes_run_cancel_requested(harness: Harness) -> None:
    await subscribed(harness)
    args = ("OQ", ACCOUNT, ACCOUNT, START)
    await harness.consume(rebal.created(*args), rebal.ready(*args), rebal.queued(*args))
    [run] = (await harness.http.get(RUNS)).json()["runs"]
    assert run["status"] == "QUEUED"
    assert (await harness.http.delete(f"{RUNS}/{run['id']}")).status_code == 204
    [cancel] = harness.published("run.cancel_requested")
    assert isinstance(cancel, RunCancelRequested)
    assert (cancel.run_id, cancel.portfolio_id) == ("OQ", ACCOUNT)
    assert (await harness.http.get(f"{RUNS}/{ACCOUNT}")).status_code == 404
