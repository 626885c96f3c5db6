"""Golden payloads: what producers sent at each schema version must keep decoding, forever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rebal_schemas import TOPICS, ModelUpdated, decode, encode

GOLDEN = sorted((Path(__file__).parent.parent / "golden").rglob("*.json"))


def topic_for(path: Path) -> str:
    name = path.name.removesuffix(".json")
    return next(t for t in sorted(TOPICS, key=len, reverse=True) if name.startswith(t))


def test_there_is_a_golden_payload_for_every_topic() -> None:
    assert {topic_for(p) for p in GOLDEN} == set(TOPICS)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.name)
def test_golden_payload_decodes_and_round_trips(path: Path) -> None:
    raw = path.read_bytes()
    event = decode(topic_for(path), raw)
    original = json.loads(raw)
    assert event.event_id == original["event_id"]
    assert event.event_type == original["event_type"]
    again = decode(topic_for(path), encode(event))
    assert again == event
    assert again.schema_version == type(event).SCHEMA_VERSION


def test_model_v1_is_upcast_to_v2() -> None:
    path = next(p for p in GOLDEN if p.name == "model.updated.v1.json")
    event = decode("model.updated", path.read_bytes())
    assert isinstance(event, ModelUpdated)
    assert event.schema_version == 2
    assert [(c.sub_type, str(c.percent)) for c in event.rebalance_conditions] == [
        ("absolute", "5"),
        ("relative", "20"),
    ]


def test_decimals_travel_as_strings() -> None:
    path = next(p for p in GOLDEN if p.name == "run.completed.json")
    out = json.loads(encode(decode("run.completed", path.read_bytes())))
    assert out["cash_delta"] == "101.98"
    assert out["holdings_delta"] == {"TLT": "-1.5", "SPY": "0.25"}
    assert out["orders"][0]["filled_qty"] == "1.5"
