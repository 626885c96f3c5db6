from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebal_schemas import TOPICS
from rebal_schemas.jsonschema import export
from rebal_schemas.upcasting import upcast, upcaster


def test_upcast_chain_applies_each_step_in_order() -> None:
    @upcaster("test.chained", 1)
    def one(p: dict) -> dict:  # type: ignore[type-arg]
        p["steps"] = [*p.get("steps", []), 1]
        return p

    @upcaster("test.chained", 2)
    def two(p: dict) -> dict:  # type: ignore[type-arg]
        p["steps"] = [*p["steps"], 2]
        return p

    out = upcast({"event_type": "test.chained", "schema_version": 1})
    assert out == {"event_type": "test.chained", "schema_version": 3, "steps": [1, 2]}
    assert upcast({"event_type": "test.chained", "schema_version": 3}) == {
        "event_type": "test.chained",
        "schema_version": 3,
    }


def test_a_second_upcaster_for_the_same_step_is_refused() -> None:
    with pytest.raises(ValueError, match="two upcasters"):
        upcaster("model.updated", 1)(lambda p: p)


def test_json_schema_for_every_topic(tmp_path: Path) -> None:
    written = export(tmp_path)
    assert {p.name.removesuffix(".schema.json") for p in written} == set(TOPICS)
    patched = json.loads((tmp_path / "portfolio.patched.schema.json").read_text())
    assert set(patched["discriminator"]["mapping"]) == {
        "portfolio.settings_changed",
        "portfolio.holdings_reported",
        "portfolio.cash_deposited",
        "portfolio.withdrawal_requested",
    }
    deposit = patched["$defs"]["CashDeposited"]["properties"]["amount"]
    assert deposit["type"] == "string" and "pattern" in deposit  # decimals are strings on the wire


def test_committed_json_schemas_are_current(tmp_path: Path) -> None:
    committed = Path(__file__).parents[4] / "docs" / "schemas"
    export(tmp_path)
    for fresh in tmp_path.iterdir():
        assert (committed / fresh.name).read_text() == fresh.read_text(), (
            f"run `make asyncapi` ({fresh.name} is stale)"
        )
