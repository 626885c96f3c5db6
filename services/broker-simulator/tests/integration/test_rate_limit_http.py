"""The simulator as a real process under a request limit: 429 + Retry-After like Alpaca, and a
client that waits the Retry-After is served. Robust to a slow machine: the refusals come from a
limit far below what a burst sends, and the waits are the simulator's own."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from .conftest import AUTH, order_body  # type: ignore[import-not-found]


def test_a_burst_over_the_limit_is_refused_and_served_after_the_retry_after(api) -> None:
    api.set_prices(AAPL="10")
    api.configure(rate_limit_per_minute=1)  # one a minute: a burst of 5 gets 1 through
    answers = [api.submit(qty="1", client_order_id=f"burst-{i}") for i in range(5)]
    assert [a.status_code for a in answers] == [200, 429, 429, 429, 429]
    waits = {int(a.headers["Retry-After"]) for a in answers[1:]}
    assert all(1 <= w <= 60 for w in waits)
    assert answers[1].json() == {"code": 42910000, "message": "rate limit exceeded"}
    # the admin routes stay open, and they show what was refused
    admin = api.admin()
    mine = [(r["client_order_id"], r["outcome"]) for r in api.my_requests()]
    assert mine == [("burst-0", "accepted")] + [
        (f"burst-{i}", "rate_limited") for i in (1, 2, 3, 4)
    ]
    assert admin["rate_limited_requests"] >= 4
    assert [o["client_order_id"] for o in admin["orders"] if o["account_id"] == api.account_id] == [
        "burst-0"
    ]

    api.configure(rate_limit_per_minute=60)  # a new, full bucket of one a second
    assert api.submit(qty="1", client_order_id="burst-1").status_code == 200
    refused = api.by_client_order_id("burst-1")
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]))
    assert api.by_client_order_id("burst-1").json()["status"] == "filled"


def test_a_limit_given_on_the_command_line(simulator_factory, tmp_path: Path) -> None:
    sim = simulator_factory(tmp_path / "limited.sqlite", "--rate-limit-per-minute", "1")
    with httpx.Client(base_url=sim.base_url, auth=AUTH, timeout=20.0) as http:
        assert http.get("/admin/config").json()["rate_limit_per_minute"] == 1
        path = "/v1/trading/accounts/acct-cli/orders"
        statuses = [http.post(path, json=order_body(qty="1")).status_code for _ in range(3)]
        # AAPL has no price here: the first is refused as unknown (processed), the rest are 429
        assert statuses[1:] == [429, 429] and statuses[0] != 429
        assert http.get("/v2/events/trades/poll", params={"since_id": "0"}).status_code == 200
