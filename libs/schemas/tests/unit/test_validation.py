"""Validators reject what Alpaca's and InvestSuite's APIs reject, with a reason naming the field."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from rebal_schemas import (
    CashDeposited,
    MalformedMessage,
    ModelUpdated,
    SchemaViolation,
    decode,
    encode,
    key_of,
)


def model(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_type": "model.updated",
        "schema_version": 2,
        "model_id": "m1",
        "name": "Balanced",
        "weights": [
            {"type": "cash", "percent": "5"},
            {"type": "asset", "symbol": "SPY", "percent": "60"},
            {"type": "asset", "symbol": "TLT", "percent": "35"},
        ],
        "rebalance_conditions": [],
    }
    body.update(overrides)
    return body


def reason(topic: str, body: dict[str, Any]) -> str:
    with pytest.raises(SchemaViolation) as info:
        decode(topic, json.dumps(body).encode())
    return info.value.reason


def test_valid_model_decodes() -> None:
    event = decode("model.updated", json.dumps(model()).encode())
    assert isinstance(event, ModelUpdated)
    assert sum(w.percent for w in event.weights) == Decimal(100)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([{"type": "asset", "symbol": "SPY", "percent": "99.99"}], "sum to exactly 100"),
        ([{"type": "asset", "symbol": "SPY", "percent": "100.001"}], "at most 2 decimal places"),
        (
            [
                {"type": "asset", "symbol": "SPY", "percent": "0"},
                {"type": "cash", "percent": "100"},
            ],
            "greater than 0",
        ),
        (
            [
                {"type": "asset", "symbol": "SPY", "percent": "-10"},
                {"type": "cash", "percent": "110"},
            ],
            "greater than 0",
        ),
        ([{"type": "asset", "percent": "100"}], "needs a symbol"),
        ([{"type": "cash", "symbol": "USD", "percent": "100"}], "no symbol"),
        ([{"type": "asset", "symbol": "spy", "percent": "100"}], "invalid symbol"),
        (
            [
                {"type": "asset", "symbol": "SPY", "percent": "50"},
                {"type": "asset", "symbol": "SPY", "percent": "50"},
            ],
            "appears twice",
        ),
        ([], "must not be empty"),
        ([{"type": "bond", "symbol": "SPY", "percent": "100"}], "type"),
        ([{"type": "asset", "symbol": "SPY", "percent": 100.0}], "must be JSON strings"),
    ],
)
def test_weights_rules(weights: list[dict[str, Any]], expected: str) -> None:
    assert expected in reason("model.updated", model(weights=weights))


def test_weights_with_two_decimals_summing_to_100_are_accepted() -> None:
    weights = [
        {"type": "asset", "symbol": "A", "percent": "33.33"},
        {"type": "asset", "symbol": "B", "percent": "33.33"},
        {"type": "asset", "symbol": "C", "percent": "33.34"},
    ]
    event = decode("model.updated", json.dumps(model(weights=weights)).encode())
    assert isinstance(event, ModelUpdated)


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        (
            [
                {"type": "calendar", "sub_type": "weekly", "day": "Monday"},
                {"type": "calendar", "sub_type": "monthly", "day": 1},
            ],
            "at most one calendar",
        ),
        ([{"type": "calendar", "sub_type": "weekly", "day": "Saturday"}], "weekly day"),
        ([{"type": "calendar", "sub_type": "monthly", "day": 32}], "1..31"),
        ([{"type": "calendar", "sub_type": "quarterly", "day": 0}], "1..31"),
        ([{"type": "calendar", "sub_type": "annually", "day": "13-01"}], "not a date"),
        ([{"type": "calendar", "sub_type": "annually", "day": "04-31"}], "not a date"),
        ([{"type": "calendar", "sub_type": "annually", "day": "4-1"}], "MM-DD"),
        ([{"type": "calendar", "sub_type": "monthly"}], "needs a day"),
        ([{"type": "calendar", "sub_type": "absolute", "day": "1"}], "calendar sub_type"),
        ([{"type": "drift_band", "sub_type": "absolute"}], "needs a percent"),
        ([{"type": "drift_band", "sub_type": "weekly", "percent": "5"}], "absolute or relative"),
        ([{"type": "drift_band", "sub_type": "absolute", "percent": "-5"}], "greater than 0"),
    ],
)
def test_rebalance_condition_rules(conditions: list[dict[str, Any]], expected: str) -> None:
    assert expected in reason("model.updated", model(rebalance_conditions=conditions))


def test_feb_29_and_day_31_are_valid_calendar_days() -> None:
    for cond in (
        {"type": "calendar", "sub_type": "annually", "day": "02-29"},
        {"type": "calendar", "sub_type": "monthly", "day": 31},
    ):
        event = decode("model.updated", json.dumps(model(rebalance_conditions=[cond])).encode())
        assert isinstance(event, ModelUpdated)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": "-1"},
            "greater than 0",
        ),
        (
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": "0"},
            "greater than 0",
        ),
        (
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": "1e20"},
            "exponent notation is not accepted",
        ),
        (
            {
                "event_type": "portfolio.cash_deposited",
                "portfolio_id": "p",
                "amount": "1000000000000000",
            },
            "absurdly large",
        ),
        (
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": "NaN"},
            "finite",
        ),
        (
            {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": "ten"},
            "not a decimal",
        ),
        ({"event_type": "portfolio.cash_deposited", "portfolio_id": "p"}, "amount"),
        ({"event_type": "portfolio.withdrawal_requested", "portfolio_id": "p"}, "amount or full"),
        (
            {
                "event_type": "portfolio.withdrawal_requested",
                "portfolio_id": "p",
                "amount": "5",
                "full": True,
            },
            "amount or full",
        ),
        (
            {
                "event_type": "portfolio.holdings_reported",
                "portfolio_id": "p",
                "as_of": "2026-01-01T00:00:00Z",
                "holdings": {"SPY": "-1"},
            },
            "not be negative",
        ),
        (
            {
                "event_type": "portfolio.holdings_reported",
                "portfolio_id": "p",
                "as_of": "2026-01-01T00:00:00",
            },
            "timezone",
        ),
        (
            {
                "event_type": "portfolio.settings_changed",
                "portfolio_id": "p",
                "mandate": "advisory",
            },
            "mandate",
        ),
        (
            {
                "event_type": "portfolio.settings_changed",
                "portfolio_id": "p",
                "model_id": "m",
                "target_weights": [{"type": "cash", "percent": "100"}],
            },
            "not both",
        ),
        ({"event_type": "portfolio.settings_changed", "portfolio_id": "bad id"}, "white space"),
        ({"event_type": "portfolio.teleported", "portfolio_id": "p"}, "portfolio.teleported"),
    ],
)
def test_portfolio_patched_rules(body: dict[str, Any], expected: str) -> None:
    assert expected in reason("portfolio.patched", body)


def test_order_needs_exactly_one_of_qty_and_notional() -> None:
    body = {
        "event_type": "optimization.ready",
        "optimization_id": "o",
        "portfolio_id": "p",
        "account_id": "a",
        "run_type": "full_rebalance",
        "broker_integration": "PLATFORM",
        "orders": [{"leg": 0, "symbol": "SPY", "side": "buy", "qty": "1", "notional": "5"}],
    }
    assert "exactly one of qty and notional" in reason("optimization.ready", body)
    body["orders"] = [
        {"leg": 0, "symbol": "SPY", "side": "buy", "qty": "1"},
        {"leg": 0, "symbol": "TLT", "side": "buy", "qty": "1"},
    ]
    assert "legs must be unique" in reason("optimization.ready", body)


def test_owner_choice_enum_is_investsuites() -> None:
    body = {
        "event_type": "optimization.decided",
        "optimization_id": "o",
        "portfolio_id": "p",
        "owner_choice": "IGNORE",
    }
    assert "owner_choice" in reason("optimization.decided", body)


def test_newer_schema_version_is_refused_clearly() -> None:
    body = {
        "event_type": "portfolio.cash_deposited",
        "schema_version": 7,
        "portfolio_id": "p",
        "amount": "5",
    }
    assert "unsupported schema_version 7" in reason("portfolio.patched", body)


@pytest.mark.parametrize("raw", [b"{", b"[1,2]", b'"text"', b"", b"\xff\xfe"])
def test_malformed_bytes(raw: bytes) -> None:
    with pytest.raises(MalformedMessage):
        decode("portfolio.patched", raw)


def test_oversized_message_is_malformed() -> None:
    with pytest.raises(MalformedMessage, match="exceeds"):
        decode("portfolio.patched", b" " * 1_000_001)


def test_events_are_frozen_and_keyed() -> None:
    event = CashDeposited(portfolio_id="pf-9", amount=Decimal("1.10"))
    with pytest.raises(Exception, match="frozen"):
        event.amount = Decimal(2)  # type: ignore[misc]
    assert key_of(event) == b"pf-9"
    assert json.loads(encode(event))["amount"] == "1.10"


def test_unknown_fields_are_ignored() -> None:
    body = {
        "event_type": "portfolio.cash_deposited",
        "portfolio_id": "p",
        "amount": "5",
        "from_the_future": [1],
    }
    event = decode("portfolio.patched", json.dumps(body).encode())
    assert isinstance(event, CashDeposited) and not hasattr(event, "from_the_future")
