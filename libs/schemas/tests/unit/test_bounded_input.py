"""Bounded input (docs/design.md §4), as properties over hostile input an attacker with a plain Kafka client
can send: every message is refused with a reason (a `PoisonMessage`, so it goes to dead.letter),
or it decodes to values within the bounds, whose encoding is small. Never another exception."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rebal_schemas import (
    TOPICS,
    CashDeposited,
    Event,
    HoldingsReported,
    MalformedMessage,
    ModelUpdated,
    OptimizationCreated,
    PlannedOrder,
    PoisonMessage,
    PriceUpdated,
    SchemaViolation,
    SkippedOrder,
    Weight,
    decode,
    encode,
    loads,
)
from rebal_schemas.codec import MAX_MESSAGE_BYTES
from rebal_schemas.types import (
    CASH_PLACES,
    MAX_ID_LENGTH,
    MAX_INTEGER_DIGITS,
    MAX_POSITIONS,
    MAX_WEIGHTS,
    PRICE_PLACES,
    QUANTITY_PLACES,
)

LIMIT = Decimal(10) ** MAX_INTEGER_DIGITS
GOLDEN = Path(__file__).parent.parent / "golden" / "v1"
NOW = "2026-01-05T14:32:00Z"


def outcome(topic: str, raw: bytes) -> Event | PoisonMessage:
    """The event, or the refusal; any other exception fails the test."""
    try:
        return decode(topic, raw)
    except PoisonMessage as exc:
        refusal = exc
    assert refusal.reason.strip(), "a refusal always says why"
    assert len(refusal.reason) < 10_000, "a reason never echoes a huge input back"
    return refusal


def within(value: Decimal, places: int) -> bool:
    exponent = value.as_tuple().exponent
    return (
        value.is_finite()
        and abs(value) < LIMIT
        and isinstance(exponent, int)
        and exponent >= -places
    )


# -- hostile decimal strings ---------------------------------------------------------------------

digits = st.text(alphabet="0123456789", min_size=1, max_size=30)
hostile_decimal_text = st.one_of(
    st.builds(lambda m, e: f"{m}e{e}", digits, st.integers(-(10**6), 10**6)),
    st.builds(lambda m, f, e: f"{m}.{f}E+{e}", digits, digits, st.integers(0, 400)),
    st.integers(MAX_INTEGER_DIGITS - 1, 3000).map(lambda n: "9" * n),
    st.integers(1, 3000).map(lambda n: "0." + "1" * n),
    st.integers(1, 40).map(lambda n: "1." + "0" * n),
    st.sampled_from(
        [
            "NaN",
            "nan",
            "-NaN",
            "sNaN",
            "Infinity",
            "-Infinity",
            "inf",
            "+inf",
            "1_000",
            " 1",
            "1 ",
            "+1",
            ".5",
            "5.",
            "1.2.3",
            "",
            "-",
            "--1",
            "\u0661\u0662",
            "0x10",
            "1e",
            "١",
            "12.50",
            "0",
            "-0",
            "999999999999999.99",
            "1000000000000000",
            "0.000000001",
        ]
    ),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.decimals(min_value=-LIMIT, max_value=LIMIT, places=9).map(lambda d: format(d, "f")),
    st.decimals(min_value=0, max_value=LIMIT, places=2).map(lambda d: format(d, "f")),
    st.text(max_size=30),
)


def deposit_body(amount: Any) -> bytes:
    return orjson.dumps(
        {"event_type": "portfolio.cash_deposited", "portfolio_id": "p", "amount": amount}
    )


@settings(max_examples=400)
@given(hostile_decimal_text)
@example("1e-999999")
@example("1E+999999")
def test_a_cash_amount_is_refused_with_a_reason_or_within_bounds(text: str) -> None:
    result = outcome("portfolio.patched", deposit_body(text))
    if isinstance(result, PoisonMessage):
        assert isinstance(result, SchemaViolation) and "amount" in result.reason
        return
    assert isinstance(result, CashDeposited)
    assert within(result.amount, CASH_PLACES) and result.amount > 0
    wire = orjson.loads(encode(result))["amount"]
    assert wire == text and len(wire) <= MAX_INTEGER_DIGITS + CASH_PLACES + 1


@settings(max_examples=300)
@given(hostile_decimal_text)
@example("1e-999999")
def test_a_price_is_refused_with_a_reason_or_within_bounds(text: str) -> None:
    raw = orjson.dumps(
        {"event_type": "market.price_updated", "symbol": "SPY", "price": text, "as_of": NOW}
    )
    result = outcome("market.prices", raw)
    if isinstance(result, PoisonMessage):
        assert "price" in result.reason
        return
    assert isinstance(result, PriceUpdated)
    assert within(result.price, PRICE_PLACES) and result.price > 0
    assert decode("market.prices", encode(result)).price == result.price


@settings(max_examples=300)
@given(hostile_decimal_text)
def test_a_holdings_quantity_is_refused_with_a_reason_or_within_bounds(text: str) -> None:
    raw = orjson.dumps(
        {
            "event_type": "portfolio.holdings_reported",
            "portfolio_id": "p",
            "mode": "delta",
            "as_of": NOW,
            "holdings": {"SPY": text},
        }
    )
    result = outcome("portfolio.patched", raw)
    if isinstance(result, PoisonMessage):
        assert "holdings" in result.reason
        return
    assert isinstance(result, HoldingsReported)
    assert within(result.holdings["SPY"], QUANTITY_PLACES)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1e-999999", "exponent notation is not accepted"),
        ("1E5", "exponent notation is not accepted"),
        ("NaN", "not a finite decimal"),
        ("-Infinity", "not a finite decimal"),
        ("1" * 16, "absurdly large"),
        ("1.005", "at most 2 decimal places"),
        ("1_000", "not a decimal"),
        (" 1", "not a decimal"),
        ("+1", "not a decimal"),
        ("٣", "not a decimal"),
    ],
)
def test_each_kind_of_bad_decimal_says_what_is_wrong(text: str, fragment: str) -> None:
    result = outcome("portfolio.patched", deposit_body(text))
    assert isinstance(result, SchemaViolation) and fragment in result.reason


def test_a_refused_huge_value_is_not_echoed_back() -> None:
    result = outcome("portfolio.patched", deposit_body("1" * 500_000))
    assert isinstance(result, SchemaViolation) and len(result.reason) < 300


# -- JSON numbers are refused for money and quantities, integers too -----------------------------

json_numbers = st.one_of(
    st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-10, 10)
)


@settings(max_examples=200)
@given(json_numbers)
@example(100)
@example(0)
def test_a_json_number_is_refused_for_money(number: int | float) -> None:
    result = outcome(
        "portfolio.patched",
        json.dumps(
            {
                "event_type": "portfolio.cash_deposited",
                "portfolio_id": "p",
                "amount": number,
            }
        ).encode(),
    )
    assert isinstance(result, SchemaViolation)
    assert "must be JSON strings" in result.reason


@pytest.mark.parametrize(
    ("topic", "body"),
    [
        (
            "market.prices",
            {"event_type": "market.price_updated", "symbol": "SPY", "price": 417, "as_of": NOW},
        ),
        (
            "portfolio.patched",
            {
                "event_type": "portfolio.holdings_reported",
                "portfolio_id": "p",
                "as_of": NOW,
                "holdings": {"SPY": 10},
            },
        ),
        (
            "portfolio.patched",
            {
                "event_type": "portfolio.holdings_reported",
                "portfolio_id": "p",
                "as_of": NOW,
                "cash": 100,
            },
        ),
        (
            "model.updated",
            {
                "event_type": "model.updated",
                "schema_version": 2,
                "model_id": "m",
                "name": "m",
                "weights": [{"type": "cash", "percent": 100}],
            },
        ),
    ],
)
def test_integers_are_refused_in_every_kind_of_decimal(topic: str, body: dict[str, Any]) -> None:
    result = outcome(topic, json.dumps(body).encode())
    assert isinstance(result, SchemaViolation) and "must be JSON strings" in result.reason


# -- decimals built in Python (what the services publish) ----------------------------------------


@settings(max_examples=300)
@given(st.decimals(allow_nan=True, allow_infinity=True))
def test_a_python_decimal_is_refused_or_serialized_within_the_wire_bounds(value: Decimal) -> None:
    try:
        event = CashDeposited(portfolio_id="p", amount=value)
    except ValidationError:
        return
    wire = orjson.loads(encode(event))["amount"]
    assert decode("portfolio.patched", encode(event)).amount == value  # what the next one reads
    assert len(wire) <= MAX_INTEGER_DIGITS + CASH_PLACES + 1


def test_trailing_zeros_beyond_the_places_are_dropped_other_places_refused() -> None:
    event = CashDeposited(portfolio_id="p", amount=Decimal("12.5000000000"))
    assert orjson.loads(encode(event))["amount"] == "12.50"
    with pytest.raises(ValidationError, match="at most 2 decimal places"):
        CashDeposited(portfolio_id="p", amount=Decimal("12.501"))
    with pytest.raises(ValidationError, match="must be JSON strings"):
        CashDeposited(portfolio_id="p", amount=12)  # type: ignore[arg-type]


# -- ids -----------------------------------------------------------------------------------------

hostile_ids = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=120, max_size=140),
    st.sampled_from(
        [
            "",
            " ",
            "a b",
            "a\tb",
            "a\nb",
            "a\x00b",
            "a\x1bb",
            "a\x7fb",
            "a\u200bb",
            "a\u202eb",
            "a\u2028b",
            "a\u00a0b",
            "p/1/2",
            "x" * 128,
            "x" * 129,
        ]
    ),
)


@settings(max_examples=400)
@given(hostile_ids)
def test_an_id_is_refused_with_a_reason_or_printable_and_bounded(value: str) -> None:
    raw = orjson.dumps({"event_type": "portfolio.settings_changed", "portfolio_id": value})
    result = outcome("portfolio.patched", raw)
    if isinstance(result, PoisonMessage):
        assert "portfolio_id" in result.reason
        return
    assert 1 <= len(result.portfolio_id) <= MAX_ID_LENGTH  # type: ignore[attr-defined]
    assert result.portfolio_id.isprintable() and " " not in result.portfolio_id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "field",
    ["event_id", "correlation_id", "causation_id", "producer", "deposit_id"],
)
@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "x" * 129, ""])
def test_every_id_of_a_deposit_is_bounded(field: str, value: str) -> None:
    body = {
        "event_type": "portfolio.cash_deposited",
        "portfolio_id": "p",
        "amount": "5",
        field: value,
    }
    result = outcome("portfolio.patched", orjson.dumps(body))
    assert isinstance(result, SchemaViolation) and field in result.reason


def test_a_fill_with_a_control_character_in_its_order_ids_is_refused() -> None:
    body = orjson.loads((GOLDEN / "order.filled.json").read_bytes())
    for field in ("client_order_id", "broker_order_id", "run_id"):
        result = outcome("order.filled", orjson.dumps({**body, field: "mw-\x07bell"}))
        assert isinstance(result, SchemaViolation) and field in result.reason


# -- collections ---------------------------------------------------------------------------------


def model_body(count: int) -> dict[str, Any]:
    share = Decimal(100) / count
    weights = [
        {"type": "asset", "symbol": f"S{i}", "percent": format(share, "f")} for i in range(count)
    ]
    return {
        "event_type": "model.updated",
        "schema_version": 2,
        "model_id": "m",
        "name": "m",
        "weights": weights,
    }


def test_a_model_has_at_most_500_weights() -> None:
    assert MAX_WEIGHTS == 500
    event = outcome("model.updated", orjson.dumps(model_body(500)))  # 0.2 each
    assert isinstance(event, ModelUpdated) and len(event.weights) == 500
    result = outcome("model.updated", orjson.dumps(model_body(10_000)))  # 0.01 each
    assert isinstance(result, SchemaViolation) and "at most 500" in result.reason


def test_holdings_and_external_orders_are_bounded() -> None:
    holdings = {f"S{i}": "1" for i in range(MAX_POSITIONS + 1)}
    result = outcome(
        "portfolio.patched",
        orjson.dumps(
            {
                "event_type": "portfolio.holdings_reported",
                "portfolio_id": "p",
                "as_of": NOW,
                "holdings": holdings,
            }
        ),
    )
    assert isinstance(result, SchemaViolation) and f"at most {MAX_POSITIONS}" in result.reason
    orders = [{"symbol": "SPY", "side": "buy", "qty": "1"}] * (MAX_POSITIONS + 1)
    result = outcome(
        "optimization.submitted",
        orjson.dumps(
            {
                "event_type": "optimization.submitted",
                "portfolio_id": "p",
                "external_optimization_id": "x",
                "orders": orders,
            }
        ),
    )
    assert isinstance(result, SchemaViolation) and f"at most {MAX_POSITIONS}" in result.reason
    result = outcome(
        "optimization.submitted",
        orjson.dumps(
            {
                "event_type": "optimization.submitted",
                "portfolio_id": "p",
                "external_optimization_id": "x",
                "orders": [],
                "reasons": [{"code": "WHY", "detail": "x" * 5000}],
            }
        ),
    )
    assert isinstance(result, SchemaViolation) and "detail of at most" in result.reason


def test_the_largest_optimization_the_bounds_allow_fits_the_broker() -> None:
    """500 weights, and an order (and a skipped one) for each of 1,000 holdings and 500 targets,
    every number as long as the bounds allow: within 60% of the 1 MB a message may have, which
    leaves 400 kB to the decision record and the reasons."""
    big_qty, big_cash = Decimal("9" * 15 + "." + "9" * 9), Decimal("9" * 15 + ".99")
    symbols = [f"{i:0>20}" for i in range(MAX_POSITIONS + MAX_WEIGHTS)]
    weights = tuple(Weight(type="asset", symbol=s, percent=Decimal("0.2")) for s in symbols[:500])
    orders = tuple(
        PlannedOrder(leg=i, symbol=s, side="sell", qty=big_qty, expected_price=big_qty)
        for i, s in enumerate(symbols)
    )
    skipped = tuple(
        SkippedOrder(symbol=s, side="sell", notional=big_cash, reason="X" * 40) for s in symbols
    )
    event = OptimizationCreated(
        optimization_id="O" * 27,
        portfolio_id="p" * 128,
        account_id="a" * 128,
        run_type="full_rebalance",
        status="READY",
        is_recommended=True,
        trigger="nightly",
        mandate="DISCRETIONARY",
        broker_integration="PLATFORM",
        weights=weights,
        orders=orders,
        skipped_orders=skipped,
        amount=big_cash,
    )  # type: ignore[arg-type]
    assert len(encode(event)) < MAX_MESSAGE_BYTES * 0.6


# -- duplicate keys ------------------------------------------------------------------------------


class Obj:
    """A JSON object as written: its (key, value) pairs in order, duplicates allowed."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs

    def __repr__(self) -> str:
        return f"Obj({self.pairs!r})"


def has_duplicates(node: Any) -> bool:
    if isinstance(node, Obj):
        keys = [k for k, _ in node.pairs]
        return len(set(keys)) != len(keys) or any(has_duplicates(v) for _, v in node.pairs)
    if isinstance(node, list):
        return any(has_duplicates(v) for v in node)
    return False


def write(node: Any, style: dict[str, Any]) -> str:
    """JSON text of `node` in a `style`: white space, ASCII escapes, colons escaped in strings."""
    ws = style["ws"]

    def string(text: str) -> str:
        out = json.dumps(text, ensure_ascii=style["ascii"])
        return out.replace(":", style["colon"])

    if isinstance(node, Obj):
        items = [f"{ws}{string(k)}{ws}:{ws}{write(v, style)}" for k, v in node.pairs]
        return "{" + ",".join(items) + ws + "}"
    if isinstance(node, list):
        return "[" + ",".join(f"{ws}{write(v, style)}" for v in node) + "]"
    if isinstance(node, str):
        return string(node)
    return json.dumps(node)


keys = st.one_of(
    st.sampled_from(["a", "b", "amount", ":", '"', "\\", "a:b", 'x"', "\\u003a", "", "é"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=3),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.sampled_from(["12:30", "\\", '":', ":", "\\u003a", "x"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=4),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(st.tuples(keys, children), max_size=4).map(Obj),
    ),
    max_leaves=20,
)
styles = st.fixed_dictionaries(
    {
        "ws": st.sampled_from(["", " ", "\n\t ", "\r\n"]),
        "ascii": st.booleans(),
        "colon": st.sampled_from([":", "\\u003a", "\\u003A"]),
    }
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(keys, trees), max_size=6).map(Obj), styles)
@example(Obj([("a", 1), ("a", 2)]), {"ws": "", "ascii": True, "colon": ":"})
@example(Obj([("a", "\\u003a"), ("a", 2)]), {"ws": " ", "ascii": True, "colon": "\\u003a"})
def test_a_duplicate_key_anywhere_is_refused_and_nothing_else_is(
    top: Obj, style: dict[str, Any]
) -> None:
    raw = write(top, style).encode()
    if has_duplicates(top):
        with pytest.raises(MalformedMessage, match="duplicate key"):
            loads(raw)
    else:
        assert loads(raw) == orjson.loads(raw)  # what orjson read, nothing refused


def test_a_duplicate_amount_is_refused_in_a_real_event() -> None:
    raw = b'{"event_type":"portfolio.cash_deposited","portfolio_id":"p","amount":"1","amount":"9"}'
    result = outcome("portfolio.patched", raw)
    assert isinstance(result, MalformedMessage) and "duplicate key 'amount'" in result.reason


def test_deep_nesting_is_refused() -> None:
    result = outcome("portfolio.patched", b'{"a":' + b"[" * 300 + b"]" * 300 + b"}")
    assert isinstance(result, MalformedMessage)


# -- anything at all -----------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        hostile_decimal_text,
        hostile_ids,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


def golden_payloads() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(GOLDEN.glob("*.json")):
        name = path.name.removesuffix(".json")
        topic = next(t for t in sorted(TOPICS, key=len, reverse=True) if name.startswith(t))
        found.append((topic, orjson.loads(path.read_bytes())))
    return found


GOLDEN_PAYLOADS = golden_payloads()


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(GOLDEN_PAYLOADS), st.data())
def test_any_field_of_any_event_set_to_anything_is_refused_or_decoded(
    golden: tuple[str, dict[str, Any]], data: st.DataObject
) -> None:
    topic, payload = golden
    field = data.draw(st.sampled_from(sorted(payload)))
    if field in ("event_type", "schema_version"):
        field = data.draw(st.sampled_from(sorted(set(payload) - {"event_type", "schema_version"})))
    value = data.draw(json_values)
    try:
        raw = orjson.dumps({**payload, field: value})
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: write it with the stdlib
        raw = json.dumps({**payload, field: value}).encode()
    result = outcome(topic, raw)
    if isinstance(result, Event):
        assert len(encode(result)) <= max(2 * len(raw), 4096)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_any_bytes_are_refused_or_decoded(raw: bytes) -> None:
    outcome("portfolio.patched", raw)
