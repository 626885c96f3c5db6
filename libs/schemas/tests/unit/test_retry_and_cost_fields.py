"""The optional fields of #15 (retry_of on the run objects, the cost gate, carry-forward and
retry settings): present in their golden payloads, absent (None) in the older ones."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rebal_schemas import decode

GOLDEN = Path(__file__).parent.parent / "golden" / "v1"
ORIGINAL = "O0RIGINALRUN000000000000000"


@pytest.mark.parametrize(
    ("topic", "name"),
    [
        ("optimization.ready", "optimization.ready"),
        ("optimization.created", "optimization.created"),
        ("run.completed", "run.completed.v2"),
        ("run.status_changed", "run.status_changed.changed"),
    ],
)
def test_retry_of_is_carried_and_optional(topic: str, name: str) -> None:
    retry = decode(topic, (GOLDEN / f"{name}.retry.json").read_bytes())
    assert retry.retry_of == ORIGINAL
    older = decode(topic, (GOLDEN / f"{name}.json").read_bytes())
    assert older.retry_of is None


def test_the_cost_carry_and_retry_settings_decode() -> None:
    event = decode(
        "portfolio.patched", (GOLDEN / "portfolio.patched.settings.costs.json").read_bytes()
    )
    assert event.commission_per_order == Decimal("0.35")
    assert event.spread_bps_by_symbol == {"TLT": Decimal(4)}
    assert event.cost_gate_threshold == Decimal("0.01")
    assert event.carry_forward_skipped is True
    assert event.max_order_retries == 2
    older = decode("portfolio.patched", (GOLDEN / "portfolio.patched.settings.json").read_bytes())
    assert "cost_gate_threshold" not in older.model_fields_set
