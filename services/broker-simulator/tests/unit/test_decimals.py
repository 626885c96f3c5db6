"""Decimal parsing and formatting: strings in, strings out, never floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rebal_broker_sim.domain.decimals import (
    DecimalFieldError,
    decimal_places,
    format_decimal,
    parse_decimal,
)


@pytest.mark.parametrize(("raw", "expected"), [("1.50", "1.50"), (7, "7"), (Decimal("0.1"), "0.1")])
def test_parse_accepts_strings_ints_and_decimals(raw: object, expected: str) -> None:
    assert parse_decimal(raw, "qty") == Decimal(expected)


@pytest.mark.parametrize("raw", [0.1, True, None, "abc", "NaN", "Infinity", [1]])
def test_parse_refuses_floats_and_garbage(raw: object) -> None:
    with pytest.raises(DecimalFieldError):
        parse_decimal(raw, "qty")


@pytest.mark.parametrize(
    ("number", "text"),
    [(Decimal("1E+2"), "100"), (Decimal("6.6500"), "6.65"), (Decimal("0.000"), "0"), (None, None)],
)
def test_format_is_plain_notation(number: Decimal | None, text: str | None) -> None:
    assert format_decimal(number) == text


def test_decimal_places_ignores_trailing_zeros() -> None:
    assert decimal_places(Decimal("1.2300")) == 2
    assert decimal_places(Decimal("100")) == 0
    assert decimal_places(Decimal("0.000000001")) == 9
