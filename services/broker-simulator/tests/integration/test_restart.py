"""A restarted simulator keeps its orders, its prices and its event numbering (SQLite)."""

from __future__ import annotations

import contextlib
import signal

import httpx

AUTH = ("sim-key", "sim-secret")
ORDER = {"symbol": "AAPL", "side": "buy", "qty": "2", "type": "market", "time_in_force": "day"}


def test_restart_keeps_orders_and_events(tmp_path, simulator_factory) -> None:
    db = tmp_path / "restart.sqlite"
    first = simulator_factory(db, "--price", "AAPL=12.5")
    path = "/v1/trading/accounts/acct-r/orders"
    with httpx.Client(base_url=first.base_url, auth=AUTH) as http:
        before = http.post(path, json={**ORDER, "client_order_id": "run-r:leg-0"}).json()
        events_before = http.get("/v2/events/trades/poll", params={"since_id": "0"}).json()
    assert before["status"] == "filled"
    assert first.stop() in (0, -signal.SIGTERM)

    second = simulator_factory(db)
    assert second.base_url != "" and second.db == first.db
    with httpx.Client(base_url=second.base_url, auth=AUTH) as http:
        kept = http.get(f"{path}:by_client_order_id", params={"client_order_id": "run-r:leg-0"})
        assert kept.status_code == 200
        assert kept.json() == before
        # The unique client_order_id still holds after the restart.
        again = http.post(path, json={**ORDER, "client_order_id": "run-r:leg-0"})
        assert again.status_code == 422
        # The price survived too, so a new order fills at once.
        after = http.post(path, json={**ORDER, "client_order_id": "run-r:leg-1"}).json()
        assert after["filled_avg_price"] == "12.5"
        events_after = http.get("/v2/events/trades/poll", params={"since_id": "0"}).json()
        requests = http.get("/admin/orders").json()["requests"]
    old_ids = [e["event_id"] for e in events_before["events"]]
    all_ids = [e["event_id"] for e in events_after["events"]]
    assert all_ids[: len(old_ids)] == old_ids
    assert all_ids == sorted(set(all_ids))
    assert len(all_ids) == len(old_ids) + 2
    assert [r["outcome"] for r in requests] == ["accepted", "duplicate", "accepted"]


def test_stopping_with_an_open_event_stream_ends_the_process(tmp_path, simulator_factory) -> None:
    running = simulator_factory(tmp_path / "stream.sqlite")
    with (
        httpx.Client(base_url=running.base_url, auth=AUTH, timeout=30) as http,
        http.stream("GET", "/v2/events/trades") as stream,
    ):
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        running.process.send_signal(signal.SIGTERM)
        # The server ends the stream instead of hanging: with its last chunk, or, when shutdown
        # closes the socket before that chunk is flushed, by closing the connection. Either
        # way the client's read ends; which one happens first depends on scheduling.
        remaining: list[str] = []
        with contextlib.suppress(httpx.RemoteProtocolError):
            remaining.extend(lines)
    assert all(line == "" or line.startswith(":") for line in remaining)
    assert running.process.wait(timeout=30) in (0, -signal.SIGTERM)
