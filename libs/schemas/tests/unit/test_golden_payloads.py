"""Golden payloads: what producers sent at each schema version must keep decoding, forever."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_schemas import (
    TOPICS,
    ModelUpdated,
    OrderStatus,
    PortfolioRunType,
    RequestRejected,
    RunCompleted,
    RunStatus,
    RunType,
    SchemaViolation,
    TransactionStatus,
    decode,
    encode,
)

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
    path = next(p for p in GOLDEN if p.name == "run.completed.v1.json")
    out = json.loads(encode(decode("run.completed", path.read_bytes())))
    assert out["cash_delta"] == "101.98"
    assert out["holdings_delta"] == {"TLT": "-1.5", "SPY": "0.25"}
    assert out["orders"][0]["filled_qty"] == "1.5"


def test_run_completed_v1_is_upcast_to_the_alpaca_run_object() -> None:
    path = next(p for p in GOLDEN if p.name == "run.completed.v1.json")
    event = decode("run.completed", path.read_bytes())
    assert isinstance(event, RunCompleted)
    assert event.schema_version == 2
    assert (event.id, event.run_id, event.type) == (
        "O01JABCDEFGHJKMNPQRSTVWXYZ0",
        "O01JABCDEFGHJKMNPQRSTVWXYZ0",
        PortfolioRunType.full_rebalance,
    )
    # Both legs executed something (the SPY buy partly, then expired): both are `orders`.
    assert [(o.symbol, o.status, o.transaction_status) for o in event.orders] == [
        ("TLT", OrderStatus.filled, TransactionStatus.SETTLED),
        ("SPY", OrderStatus.expired, TransactionStatus.EXPIRED),
    ]
    assert event.failed_orders == ()
    assert event.orders[0].qty == Decimal("1.5")
    assert event.orders[1].notional == Decimal("200.00")


def test_v1_withdrawal_runs_become_partial_liquidation_and_unfilled_legs_failed_orders() -> None:
    path = next(p for p in GOLDEN if p.name == "run.completed.v1.json")
    payload = json.loads(path.read_bytes())
    payload["run_type"] = "withdrawal"
    payload["orders"][1]["filled_qty"] = "0"
    event = decode("run.completed", json.dumps(payload).encode())
    assert isinstance(event, RunCompleted)
    assert event.type is PortfolioRunType.partial_liquidation
    assert [o.symbol for o in event.orders] == ["TLT"]
    assert [(o.symbol, o.status) for o in event.failed_orders] == [("SPY", OrderStatus.expired)]


@pytest.mark.parametrize(
    ("run_type", "alpaca"),
    [
        (RunType.full_rebalance, PortfolioRunType.full_rebalance),
        (RunType.invest_cash, PortfolioRunType.invest_cash),
        (RunType.withdrawal, PortfolioRunType.partial_liquidation),
    ],
)
def test_every_run_type_has_its_alpaca_name(run_type: RunType, alpaca: PortfolioRunType) -> None:
    assert PortfolioRunType.of(run_type) is alpaca


def test_a_rejection_without_the_refused_event_or_its_subject_is_refused() -> None:
    path = next(p for p in GOLDEN if p.name == "request.rejected.json")
    payload = json.loads(path.read_bytes())
    assert isinstance(decode("request.rejected", path.read_bytes()), RequestRejected)
    for missing in ("causation_id", "portfolio_id"):
        broken = {k: v for k, v in payload.items() if k != missing}
        with pytest.raises(SchemaViolation, match=missing):
            decode("request.rejected", json.dumps(broken).encode())


def test_final_run_statuses_are_alpacas() -> None:
    assert {s for s in RunStatus if not s.is_final} == {RunStatus.QUEUED, RunStatus.IN_PROGRESS}


def test_a_fallback_replaces_a_held_symbol_with_one_the_model_does_not_hold() -> None:
    path = next(p for p in GOLDEN if p.name == "model.updated.v2.json")
    payload = json.loads(path.read_bytes())
    held = [w["symbol"] for w in payload["weights"] if w["type"] == "asset"]
    event = decode("model.updated", json.dumps({**payload, "fallbacks": {held[0]: "ZZZ"}}).encode())
    assert isinstance(event, ModelUpdated) and event.fallbacks == {held[0]: "ZZZ"}
    for fallbacks in ({"ZZZ": "YYY"}, {held[0]: held[0]}, {held[0]: held[-1]}):
        with pytest.raises(SchemaViolation, match="fallback"):
            decode("model.updated", json.dumps({**payload, "fallbacks": fallbacks}).encode())


def test_a_settings_patch_carries_only_the_settings_it_was_given() -> None:
    from rebal_schemas import PortfolioSettingsChanged

    patch = json.loads(encode(PortfolioSettingsChanged(portfolio_id="pf-1", active=False)))
    assert {"model_id", "target_weights", "cash_buffer_percent"}.isdisjoint(patch)
    assert patch["active"] is False
    # Given as null on purpose: kept, since `model_id: null` ends the subscription.
    unsubscribe = json.loads(encode(PortfolioSettingsChanged(portfolio_id="pf-1", model_id=None)))
    assert unsubscribe["model_id"] is None
    again = decode("portfolio.patched", json.dumps(unsubscribe).encode())
    assert "model_id" in again.model_fields_set
