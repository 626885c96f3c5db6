"""`GET /v2/events/rebalancer`: ULID ids, history windows, Last-Event-Id resume."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from rebal_api.domain.ids import is_ulid
from rebal_api.service_layer.errors import BadRequest
from rebal_api.service_layer.stream import window

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness

EVENTS = "/v2/events/rebalancer"


def frames(text: str) -> list[tuple[str, str, dict]]:
    found = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith(":")
        )
        if fields:
            found.append((fields["id"], fields["event"], json.loads(fields["data"])))
    return found


async def history(harness: Harness, **params: str) -> list[tuple[str, str, dict]]:
    until = (harness.clock.now() + timedelta(seconds=1)).isoformat()
    harness.clock.advance(timedelta(seconds=30))  # the window's end is past: the stream ends
    answer = await harness.http.get(EVENTS, params={"until": until, **params})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "text/event-stream"
    )
    return frames(answer.text)


async def test_status_changes_and_runs_are_streamed_with_ulid_ids(harness: Harness) -> None:
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    args = ("ORUN", ACCOUNT, ACCOUNT, START)
    await harness.consume(
        rebal.created(*args), rebal.ready(*args), rebal.queued(*args), rebal.completed(*args)
    )
    await harness.http.delete(
        f"/v1/rebalancing/subscriptions/{(await harness.http.get('/v1/rebalancing/subscriptions')).json()['subscriptions'][0]['id']}"
    )
    await harness.http.delete(f"/v1/rebalancing/portfolios/{model['id']}")
    events = await history(harness, since=(START - timedelta(minutes=1)).isoformat())
    kinds = [kind for _, kind, _ in events]
    assert kinds == [
        "portfolio.status_changed",
        "run.created",
        "run.status_changed",
        "portfolio.status_changed",
    ]
    assert all(is_ulid(i) and body["event_id"] == i for i, _, body in events)
    assert [i for i, _, _ in events] == sorted(i for i, _, _ in events)
    created, done, retired = events[1][2], events[2][2], events[3][2]
    assert created["run"]["status"] == "QUEUED" and "orders" not in created["run"]
    assert done["run"]["status"] == "COMPLETED_SUCCESS" and done["previous_status"] == "QUEUED"
    assert retired["portfolio"]["status"] == "inactive" and retired["previous_status"] == "active"
    # resume after the second event: Last-Event-Id, or since_id
    rest = await history(harness, since_id=events[1][0])
    assert [i for i, _, _ in rest] == [i for i, _, _ in events[2:]]
    answer = await harness.http.get(
        EVENTS, params={"until_id": events[2][0]}, headers={"Last-Event-Id": events[0][0]}
    )
    assert [i for i, _, _ in frames(answer.text)] == [events[1][0], events[2][0]]


async def test_a_manual_run_is_created_once_on_the_stream(harness: Harness) -> None:
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    await harness.http.post(
        "/v1/rebalancing/runs", json={"account_id": ACCOUNT, "type": "full_rebalance"}
    )
    [request] = harness.published("rebalance.requested")
    api = rebal.RunInitiator.api
    args = ("OM", ACCOUNT, ACCOUNT, START)
    await harness.consume(
        rebal.ready(*args, cause=request.event_id, initiated=api),
        rebal.completed(*args, initiated=api),
    )
    events = await history(harness, since=(START - timedelta(minutes=1)).isoformat())
    assert [k for _, k, _ in events] == [
        "portfolio.status_changed",
        "run.created",
        "run.status_changed",
    ]
    assert events[1][2]["run"]["id"] == events[2][2]["run"]["id"]


def test_window_rules() -> None:
    now = START
    with pytest.raises(BadRequest):
        window(now, since=now.isoformat(), since_id="01HZX3Y3Q8R8W3V2B7QF1J2K3M")
    with pytest.raises(BadRequest):
        window(now, until=now.isoformat(), until_id="01HZX3Y3Q8R8W3V2B7QF1J2K3M")
    with pytest.raises(BadRequest):
        window(now, since=now.isoformat(), last_event_id="01HZX3Y3Q8R8W3V2B7QF1J2K3M")
    with pytest.raises(BadRequest):
        window(now, since_id="not-a-ulid")
    with pytest.raises(BadRequest):
        window(now, since="yesterday")
    live = window(now)
    assert live.until is None and live.after.startswith(
        window(now, since=now.isoformat()).after[:10]
    )
    resumed = window(
        now, since_id="01HZX3Y3Q8R8W3V2B7QF1J2K3M", last_event_id="01J00000000000000000000000"
    )
    assert resumed.after == "01J00000000000000000000000"


async def test_conflicting_parameters_are_400(harness: Harness) -> None:
    answer = await harness.http.get(
        EVENTS, params={"since": START.isoformat(), "since_id": "01HZX3Y3Q8R8W3V2B7QF1J2K3M"}
    )
    assert answer.status_code == 400 and answer.json()["code"] == 40010000
