"""`/v1/portfolios` PATCH and GET of the #15 settings: the cost model and gate, carry-forward
and order retries reach `portfolio.settings_changed` and read back as the optimizer applies
them (defaults until given; absent = unchanged)."""

from __future__ import annotations

from .conftest import Harness
from .test_investsuite_writes import BASE, created, wire


async def test_cost_carry_and_retry_settings_are_patched_sent_and_read_back(
    harness: Harness,
) -> None:
    model = await harness.portfolio()
    first = await created(harness, model_id=model["rebal_model_id"])
    defaults = first["settings"]
    assert (defaults["commission_per_order"], defaults["cost_gate_threshold"]) == ("0", "0")
    assert defaults["spread_bps_by_symbol"] == {} and defaults["max_order_retries"] == 0
    assert defaults["carry_forward_skipped"] is False
    given = {
        "commission_per_order": "0.35",
        "spread_bps": 2.5,
        "spread_bps_by_symbol": {"TLT": "4"},
        "cost_gate_threshold": "0.01",
        "carry_forward_skipped": True,
        "max_order_retries": 2,
    }
    answer = await harness.http.patch(f"{BASE}/pf-1", json={"settings": given})
    assert answer.status_code == 202, answer.text
    after = answer.json()["settings"]
    assert after["commission_per_order"] == "0.35" and after["spread_bps"] == "2.5"
    assert after["spread_bps_by_symbol"] == {"TLT": "4"}
    assert after["cost_gate_threshold"] == "0.01" and after["carry_forward_skipped"] is True
    assert after["max_order_retries"] == 2
    patch = wire(harness)[-1]
    assert patch["cost_gate_threshold"] == "0.01" and patch["max_order_retries"] == 2
    assert "model_id" not in patch
    assert (await harness.http.get(f"{BASE}/pf-1")).json() == answer.json()


async def test_a_retry_limit_beyond_five_is_refused(harness: Harness) -> None:
    await created(harness)
    answer = await harness.http.patch(f"{BASE}/pf-1", json={"settings": {"max_order_retries": 9}})
    assert answer.status_code == 400  # the api's answer to an invalid body
    assert "max_order_retries" in answer.text
