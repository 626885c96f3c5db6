"""GET /v2/events/trades: SSE delivery, resume from Last-Event-ID without gaps or repeats."""

from __future__ import annotations

import httpx


def submit_three(api) -> list[str]:
    api.set_prices(AAPL="10", MSFT="20")
    coids = []
    for n, symbol in enumerate(["AAPL", "MSFT", "AAPL"]):
        coid = f"run-sse:leg-{n}"
        assert api.submit(symbol=symbol, qty="1", client_order_id=coid).status_code == 200
        coids.append(coid)
    return coids


def test_history_then_resume_from_last_event_id(api) -> None:
    submit_three(api)
    mine = {"account_id": api.account_id}
    everything = api.read_sse(lambda events: len(events) == 6, params={"since_id": "0", **mine})
    assert [e["event"] for e in everything] == ["new", "fill"] * 3
    ids = [e["_sse_id"] for e in everything]
    assert ids == [e["event_id"] for e in everything]
    assert ids == sorted(set(ids))
    assert all(e["account_id"] == api.account_id for e in everything)
    assert everything[1]["order"]["status"] == "filled"

    # Reconnect after the third event: the header wins over the since_id query parameter.
    resumed = api.read_sse(
        lambda events: len(events) == 3,
        params={"since_id": "0", **mine},
        headers={"Last-Event-ID": str(ids[2])},
    )
    assert [e["_sse_id"] for e in resumed] == ids[3:]
    assert resumed == everything[3:]


def test_live_events_arrive_on_an_open_stream(api) -> None:
    api.set_prices(AAPL="10")
    # Without since_id the stream starts at "now": old events are not replayed.
    api.submit(qty="1", client_order_id="before-connect")

    def submit_while_listening() -> None:
        with httpx.Client(base_url=str(api.http.base_url), auth=api.http.auth) as other:
            response = other.post(
                api.orders_path,
                json={
                    "symbol": "AAPL",
                    "side": "sell",
                    "qty": "2",
                    "type": "market",
                    "time_in_force": "day",
                    "client_order_id": "while-connected",
                },
            )
            assert response.status_code == 200

    live = api.read_sse(
        lambda events: len(events) == 2,
        params={"account_id": api.account_id},
        while_open=submit_while_listening,
    )
    assert [(e["event"], e["order"]["client_order_id"]) for e in live] == [
        ("new", "while-connected"),
        ("fill", "while-connected"),
    ]
    assert live[1]["position_qty"] == "-1"  # bought 1 before, sold 2 now


def test_resume_across_new_events_has_no_gap_and_no_repeat(api) -> None:
    submit_three(api)
    first = api.read_sse(
        lambda events: len(events) == 4, params={"since_id": "0", "account_id": api.account_id}
    )
    last_seen = first[-1]["_sse_id"]
    api.submit(qty="1", client_order_id="after-disconnect")
    second = api.read_sse(
        lambda events: len(events) == 4,
        params={"account_id": api.account_id},
        headers={"Last-Event-ID": str(last_seen)},
    )
    seen = [e["_sse_id"] for e in first + second]
    assert seen == sorted(set(seen))  # strictly increasing: nothing twice
    assert seen == [e["event_id"] for e in api.my_events()]  # nothing missing


def test_until_id_ends_the_stream_and_poll_matches_it(api) -> None:
    submit_three(api)
    polled = api.my_events()
    stop_at = polled[3]["event_id"]
    streamed = api.read_sse(
        lambda events: False,  # read until the server closes the stream
        params={"since_id": "0", "until_id": str(stop_at), "account_id": api.account_id},
    )
    assert [e["event_id"] for e in streamed] == [e["event_id"] for e in polled[:4]]
    page = api.http.get(
        "/v2/events/trades/poll",
        params={"since_id": str(polled[1]["event_id"]), "limit": "2", "account_id": api.account_id},
    ).json()
    assert [e["event_id"] for e in page["events"]] == [e["event_id"] for e in polled[2:4]]
    assert page["last_event_id"] == polled[3]["event_id"]


def test_a_bad_last_event_id_is_refused(api) -> None:
    response = api.http.get("/v2/events/trades", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422
    assert response.json()["code"] == 42210000
