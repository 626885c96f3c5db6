"""Key discipline: a record's Kafka key is the key its event gives (`key_of`), or it is refused."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rebal_schemas import (
    TOPICS,
    CashDeposited,
    Event,
    KeyMismatch,
    ModelUpdated,
    PriceUpdated,
    RebalanceRequested,
    SchemaViolation,
    Weight,
    check_key,
    encode,
    key_of,
    loads,
)

NOW = datetime(2026, 1, 5, 14, 32, tzinfo=UTC)
MODEL = ModelUpdated(
    model_id="balanced", name="B", weights=(Weight(type="cash", percent=Decimal(100)),)
)
EVENTS: list[Event] = [
    CashDeposited(portfolio_id="pf-1", amount=Decimal("5")),
    MODEL,
    PriceUpdated(symbol="SPY", price=Decimal("417.80"), as_of=NOW),
    RebalanceRequested(scope="portfolio", portfolio_id="pf-1", reason="manual"),
    RebalanceRequested(scope="model", model_id="balanced", reason="model_changed"),
    RebalanceRequested(scope="all", reason="nightly"),
]


def payload(event: Event) -> dict[str, Any]:
    return loads(encode(event))


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.TOPIC}:{key_of(e).decode()}")
def test_the_key_a_producer_gives_is_accepted(event: Event) -> None:
    check_key(event.TOPIC, key_of(event), payload(event))
    assert TOPICS[event.TOPIC].key_of_payload(payload(event)) == key_of(event).decode()


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.TOPIC}:{key_of(e).decode()}")
def test_another_key_is_refused_with_the_field_and_both_values(event: Event) -> None:
    with pytest.raises(KeyMismatch) as info:
        check_key(event.TOPIC, b"someone-else", payload(event))
    assert "'someone-else' does not match" in info.value.reason
    assert repr(key_of(event).decode()) in info.value.reason


def test_the_reason_names_the_key_field_of_the_topic() -> None:
    cases = {
        "portfolio_id": CashDeposited(portfolio_id="pf-1", amount=Decimal("5")),
        "model_id": MODEL,
        "symbol": PriceUpdated(symbol="SPY", price=Decimal("1"), as_of=NOW),
    }
    for field, event in cases.items():
        with pytest.raises(KeyMismatch, match=f"does not match {field} "):
            check_key(event.TOPIC, b"x", payload(event))


def test_a_record_without_a_key_is_refused() -> None:
    event = CashDeposited(portfolio_id="pf-1", amount=Decimal("5"))
    with pytest.raises(KeyMismatch, match=r"message has no key: portfolio\.patched is keyed by"):
        check_key(event.TOPIC, None, payload(event))
    with pytest.raises(KeyMismatch):
        check_key(event.TOPIC, b"", payload(event))


def test_an_invalid_payload_gets_the_schema_reason_not_the_key_one() -> None:
    data = {"event_type": "portfolio.cash_deposited", "portfolio_id": "pf-1", "amount": "-5"}
    with pytest.raises(SchemaViolation, match="greater than 0"):
        check_key("portfolio.patched", b"other", data)


def test_a_payload_without_its_key_field_is_left_to_validation() -> None:
    check_key("portfolio.patched", b"k", {"event_type": "portfolio.cash_deposited"})
    check_key("portfolio.patched", b"k", {"portfolio_id": 5})
    check_key("some.other.topic", b"k", {"portfolio_id": "p"})  # not a rebal topic: no rule


def test_a_key_that_is_not_utf8_is_refused_and_shown() -> None:
    event = CashDeposited(portfolio_id="pf-1", amount=Decimal("5"))
    with pytest.raises(KeyMismatch, match="does not match portfolio_id"):
        check_key(event.TOPIC, b"\xff\xfe", payload(event))
