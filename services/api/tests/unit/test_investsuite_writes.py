"""`/v1/portfolios` writes: PATCH (settings, holdings), deposits, withdrawals, the owner's
choice; the same auth, errors, Idempotency-Key and read-your-writes as the Alpaca paths."""

from __future__ import annotations

import orjson

from rebal_schemas import (
    CashDeposited,
    HoldingsReported,
    OptimizationDecided,
    OptimizationStatus,
    PortfolioSettingsChanged,
    RejectionCode,
    RequestRejected,
    WithdrawalRequested,
)

from . import rebal_events as rebal
from .conftest import ACCOUNT, START, Harness

BASE = "/v1/portfolios"
SETTINGS = {"mandate": "ADVISORY", "broker_integration": "PLATFORM", "optimizer": "PLATFORM"}


def wire(harness: Harness) -> list[dict]:
    """The JSON of every `portfolio.patched` record the api put in its outbox."""
    return [
        orjson.loads(p.message.value)
        for p in harness.store._outbox
        if p.message.topic == "portfolio.patched"
    ]


async def created(harness: Harness, pid: str = "pf-1", **settings: object) -> dict:
    body = {"account_id": "acct-1", "settings": {**SETTINGS, **settings}}
    answer = await harness.http.patch(f"{BASE}/{pid}", json=body)
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


async def test_patch_creates_and_sends_only_the_settings_given(harness: Harness) -> None:
    model = await harness.portfolio()
    first = await created(harness, model_id=model["rebal_model_id"], cash_buffer_percent="2.5")
    assert first["settings"]["mandate"] == "ADVISORY" and first["account_id"] == "acct-1"
    assert first["settings"]["cash_buffer_percent"] == "2.5"
    assert first["settings"]["min_order_notional"] == "1.00"  # the optimizer's default
    answer = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"active": False}})
    assert answer.status_code == 202
    after = answer.json()["settings"]
    assert after["active"] is False and after["model_id"] == model["rebal_model_id"]
    assert after["cash_buffer_percent"] == "2.5"
    [_, patch] = wire(harness)
    assert "active" in patch and patch["active"] is False
    for untouched in ("model_id", "cash_buffer_percent", "target_weights", "mandate"):
        assert untouched not in patch, untouched
    assert (await harness.http.get(f"{BASE}/pf-1")).json() == answer.json()


async def test_nulls_read_as_the_optimizer_reads_them(harness: Harness) -> None:
    """null leaves the cash buffer unchanged, 0 removes it; `model_id: null` unsubscribes."""
    model = await harness.portfolio()
    await created(harness, model_id=model["rebal_model_id"], cash_buffer_percent="3")
    kept = await harness.http.patch(
        f"{BASE}/pf-1", json={"settings": {"cash_buffer_percent": None}}
    )
    assert kept.json()["settings"]["cash_buffer_percent"] == "3"
    assert wire(harness)[-1]["cash_buffer_percent"] is None
    zero = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"cash_buffer_percent": 0}})
    assert zero.status_code == 202 and zero.json()["settings"]["cash_buffer_percent"] == "0"
    left = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"model_id": None}})
    assert left.json()["settings"]["model_id"] is None
    assert (await harness.http.get("/v1/rebalancing/subscriptions")).json()["subscriptions"] == []


async def test_a_subscription_names_only_what_it_sets(harness: Harness) -> None:
    """The Alpaca path too: a subscription must not reset the cash buffer or own weights."""
    model = await harness.portfolio()
    await harness.subscribe(model["id"])
    [sent] = wire(harness)
    assert sent["model_id"] == model["rebal_model_id"] and sent["account_id"] == ACCOUNT
    for absent in ("cash_buffer_percent", "target_weights", "min_order_notional", "active"):
        assert absent not in sent, absent
    portfolio = (await harness.http.get(f"{BASE}/{ACCOUNT}")).json()
    assert portfolio["settings"]["model_id"] == model["rebal_model_id"]


async def test_patch_refusals(harness: Harness) -> None:
    unknown = await harness.http.patch(f"{BASE}/nobody", json={"holdings": []})
    assert unknown.status_code == 404 and unknown.json()["code"] == 40410000
    no_model = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"model_id": "nope"}})
    assert no_model.status_code == 422 and "not found" in no_model.json()["message"]
    both = {"settings": {"model_id": None, "target_weights": [{"type": "cash", "percent": 50}]}}
    bad = await harness.http.patch(f"{BASE}/pf-1", json=both)
    assert bad.status_code == 422 and "100" in bad.json()["message"]
    spaced = await harness.http.get(f"{BASE}/a%20b")
    assert spaced.status_code == 400 and "rebal id" in spaced.json()["message"]
    assert harness.published() == []


async def test_holdings_deposits_and_withdrawals_read_at_once(harness: Harness) -> None:
    await created(harness)
    snapshot = {"holdings": [{"symbol": "SPY", "quantity": "2"}], "cash": "100.00"}
    held = await harness.http.patch(f"{BASE}/pf-1", json=snapshot)
    assert held.json()["holdings"] == [{"symbol": "SPY", "quantity": "2"}]
    assert held.json()["cash"] == "100.00"
    key = {"Idempotency-Key": "dep-1"}
    body = {"amount": 250.5, "deposit_id": "d-1"}
    first = await harness.http.post(f"{BASE}/pf-1/deposits", json=body, headers=key)
    again = await harness.http.post(f"{BASE}/pf-1/deposits", json=body, headers=key)
    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    assert again.headers["idempotent-replayed"] == "true" and first.json()["cash"] == "350.50"
    same_deposit = await harness.http.post(f"{BASE}/pf-1/deposits", json=body)
    assert same_deposit.json()["cash"] == "350.50"  # one deposit_id is one deposit
    out = await harness.http.post(f"{BASE}/pf-1/withdrawals", json={"amount": "50"})
    assert out.json()["pending_withdrawal"] == "50" and out.json()["full_withdrawal"] is False
    full = await harness.http.post(f"{BASE}/pf-1/withdrawals", json={"full": True})
    assert full.json()["full_withdrawal"] is True
    neither = await harness.http.post(f"{BASE}/pf-1/withdrawals", json={})
    assert neither.status_code == 422
    kinds = [type(e) for e in harness.published("portfolio.patched")]
    assert kinds == [
        PortfolioSettingsChanged,
        HoldingsReported,
        CashDeposited,
        CashDeposited,
        WithdrawalRequested,
        WithdrawalRequested,
    ]
    assert (await harness.http.get(f"{BASE}/pf-1")).json() == full.json()
    assert (await harness.http.post(f"{BASE}/other/deposits", json=body)).status_code == 404


async def test_the_owners_choice(harness: Harness) -> None:
    await created(harness)
    waiting = rebal.created(
        "OADV", "pf-1", "acct-1", START, status=OptimizationStatus.AWAITING_OWNER
    )
    await harness.consume(waiting)
    path = f"{BASE}/pf-1/optimizations/OADV/decision"
    answer = await harness.http.post(path, json={"owner_choice": "ACCEPT"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["owner_choice_requested"] == "ACCEPT"
    [decided] = harness.published("optimization.decided")
    assert isinstance(decided, OptimizationDecided) and decided.owner_choice == "ACCEPT"
    await harness.consume(
        RequestRejected(
            reason_code=RejectionCode.OPTIMIZATION_EXPIRED,
            message="ACCEPT refused: OADV expired",
            request_event_type="optimization.decided",
            portfolio_id="pf-1",
            run_id="OADV",
            causation_id=decided.event_id,
            producer="optimizer",
        )
    )
    latest = (await harness.http.get(f"{BASE}/pf-1/optimizations/latest")).json()
    assert latest["owner_choice_requested"] is None
    assert "expired" in latest["owner_choice_refused"]
    ready = rebal.created("ODONE", "pf-1", "acct-1", START)
    await harness.consume(ready)
    late = await harness.http.post(
        f"{BASE}/pf-1/optimizations/ODONE/decision", json={"owner_choice": "REJECT"}
    )
    assert late.status_code == 422 and "AWAITING_OWNER" in late.json()["message"]
    unknown = await harness.http.post(
        f"{BASE}/pf-1/optimizations/OX/decision", json={"owner_choice": "REJECT"}
    )
    assert unknown.status_code == 404
    assert len(harness.published("optimization.decided")) == 1


async def test_writes_need_the_key_and_secret(harness: Harness) -> None:
    await created(harness)
    anonymous = await harness.http.post(
        f"{BASE}/pf-1/deposits", json={"amount": "1"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401 and anonymous.json()["code"] == 40110000
