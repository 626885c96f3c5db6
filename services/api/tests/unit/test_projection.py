"""The projection over events in any order, twice, and the ends of the api's run requests."""

from __future__ import annotations

from datetime import timedelta

from rebal_api.domain.ids import ulid_uuid
from rebal_schemas import (
    OptimizationStatus,
    OptimizationStatusChanged,
    RunInitiator,
    RunType,
)

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness

RUNS = "/v1/rebalancing/runs"


async def test_a_run_seen_first_without_its_type_is_shown_once_it_is_known(
    harness: Harness,
) -> None:
    await harness.consume(rebal.settled("OS", ACCOUNT, ACCOUNT, START))
    assert (await harness.http.get(RUNS)).json()["runs"] == []
    await harness.consume(rebal.completed("OS", ACCOUNT, ACCOUNT, START))
    [run] = (await harness.http.get(RUNS)).json()["runs"]
    assert run["status"] == "COMPLETED_SUCCESS" and run["settled_at"] is not None


async def test_a_final_status_is_shown_with_the_report_of_its_orders(
    harness: Harness,
) -> None:
    """run.status_changed and run.settled can be read before run.completed (other topics)."""
    await harness.consume(rebal.ready("OF", ACCOUNT, ACCOUNT, START))
    await harness.consume(rebal.ended("OF", ACCOUNT, ACCOUNT, START))
    await harness.consume(rebal.settled("OF", ACCOUNT, ACCOUNT, START))
    [early] = (await harness.http.get(RUNS)).json()["runs"]
    assert early["status"] == "QUEUED" and early["completed_at"] is None
    await harness.consume(rebal.completed("OF", ACCOUNT, ACCOUNT, START))
    run = (await harness.http.get(f"{RUNS}/{early['id']}")).json()
    assert run["status"] == "COMPLETED_SUCCESS" and run["completed_at"] is not None
    assert [o["status"] for o in run["orders"]] == ["filled"]


async def test_redelivered_events_are_applied_once(harness: Harness) -> None:
    events = [
        rebal.ready("OR", ACCOUNT, ACCOUNT, START),
        rebal.completed("OR", ACCOUNT, ACCOUNT, START),
    ]
    await harness.consume(*events)
    first = await harness.store.load("runs", "OR")
    await harness.consume(*events, *events)
    again = await harness.store.load("runs", "OR")
    assert first is not None and again is not None
    assert again.version == first.version and again.state == first.state


async def test_an_advisory_request_the_owner_rejects_ends_canceled(harness: Harness) -> None:
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    asked = (
        await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    ).json()
    [request] = harness.published("rebalance.requested")
    awaiting = rebal.created(
        "OADV",
        ACCOUNT,
        ACCOUNT,
        START,
        cause=request.event_id,
        status=OptimizationStatus.AWAITING_OWNER,
        initiated=RunInitiator.api,
        run_type=RunType.full_rebalance,
    )
    await harness.consume(awaiting)
    assert (await harness.http.get(f"{RUNS}/{asked['id']}")).json()["status"] == "QUEUED"
    await harness.consume(
        OptimizationStatusChanged(
            optimization_id="OADV",
            portfolio_id=ACCOUNT,
            status=OptimizationStatus.REJECTED,
            producer="optimizer",
        )
    )
    ended = (await harness.http.get(f"{RUNS}/{asked['id']}")).json()
    assert ended["status"] == "CANCELED" and ended["canceled_at"] is not None
    assert ended["reason"] == "optimization REJECTED"


async def test_an_accepted_advisory_run_keeps_the_requests_id(harness: Harness) -> None:
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    asked = (
        await harness.http.post(RUNS, json={"account_id": ACCOUNT, "type": "full_rebalance"})
    ).json()
    [request] = harness.published("rebalance.requested")
    assert ulid_uuid(request.event_id) == asked["id"]
    api, full = RunInitiator.api, RunType.full_rebalance
    await harness.consume(
        rebal.created(
            "OACC",
            ACCOUNT,
            ACCOUNT,
            START,
            cause=request.event_id,
            status=OptimizationStatus.AWAITING_OWNER,
            initiated=api,
            run_type=full,
        ),
        # accepted later: optimization.ready names the owner's decision, not the request
        rebal.ready(
            "OACC",
            ACCOUNT,
            ACCOUNT,
            START + timedelta(minutes=5),
            cause="01J0000000000000000000DEC1",
            initiated=api,
            run_type=full,
        ),
    )
    [run] = (await harness.http.get(RUNS)).json()["runs"]
    assert run["id"] == asked["id"] and run["rebal_run_id"] == "OACC"
