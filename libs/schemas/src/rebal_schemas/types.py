"""Wire types shared by every event: bounded decimals as strings, symbols, ids, and the enums.

Money and quantities are `Decimal` and travel as JSON *strings* of plain digits (docs/design.md §4, bounded
input): an optional `-`, at most 15 integer digits, an optional `.` and at most 9 decimal places for
quantities and prices, 2 for cash amounts and percents; no exponent (`"1e-999999"` would expand to
a million digits the first time it is formatted), no `NaN`/`Infinity`, no white space, no `+`.

A JSON number is refused for them, integers too: a float has already lost precision by the time we
see it, and accepting integers would let a producer send floats that happen to be whole. Python
callers pass `Decimal`; a `Decimal` with more places than its field allows is refused unless the
extra places are zeros, which are dropped (`Decimal("12.5000")` as a cash amount is `12.50`), so
what is serialized always passes the wire check of the next consumer.

Ids are 1..128 printable characters without white space (no control or format characters).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler, WithJsonSchema
from pydantic_core import core_schema
from ulid import ULID

MAX_INTEGER_DIGITS = 15
"""1e15 USD is more than all the money in the world; anything larger is a unit or encoding bug."""
QUANTITY_PLACES = 9
"""Alpaca accepts fractional quantities with up to 9 decimal places; prices get the same."""
PRICE_PLACES = 9
CASH_PLACES = 2
"""Cash amounts (deposits, withdrawals, notionals, balances) are dollars and cents."""
PERCENT_PLACES = 2
"""Alpaca's weight and drift-band percents have at most two decimals."""
MAX_ID_LENGTH = 128
"""Fits derived ids (`a/b/c`, hashed beyond 128 by the services)."""

SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.\-/]{0,19}$"
_SYMBOL_RE = re.compile(SYMBOL_PATTERN)
ID_PATTERN = r"^[^\s\u0000-\u001f\u007f-\u009f]{1,128}$"
"""JSON Schema approximation of the id rule (the service also refuses Unicode format characters)."""

NUMBER_REFUSED = 'decimal values must be JSON strings (e.g. "12.50"), not numbers'
_SHOWN = 40  # characters of a refused value echoed in the reason (never a million digits)
_EXACT = Context(prec=MAX_INTEGER_DIGITS + QUANTITY_PLACES + 4)
_LARGEST_ADJUSTED = MAX_INTEGER_DIGITS - 1  # Decimal.adjusted() of 999...9 (15 digits)
_SHAPE = re.compile(r"(-?+)([0-9]++)(?:\.([0-9]++))?+")
# Possessive: linear time on a million digits (no backtracking into a digit run).
_MANTISSA = re.compile(r"[-+]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)")
_POWER = re.compile(r"[-+]?+[0-9]++")
_NOT_FINITE = frozenset({"nan", "snan", "inf", "infinity"})


def new_id() -> str:
    """A sortable unique id (ULID), the form Alpaca uses for its event ids."""
    return str(ULID())


def utc_now() -> datetime:
    return datetime.now(UTC)


def decimal_pattern(places: int) -> str:
    """The JSON Schema pattern of a decimal string with at most `places` decimal places."""
    return rf"^-?[0-9]{{1,{MAX_INTEGER_DIGITS}}}(\.[0-9]{{1,{places}}})?$"


def _shown(text: str) -> str:
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "...")


def _why_not(text: str, places: int) -> str:
    """The reason a decimal string was refused (slow path: only for refused values)."""
    bare = text.strip().lower()
    if bare.lstrip("+-") in _NOT_FINITE:
        return f"not a finite decimal: {_shown(text)}"
    mantissa, exponent, power = bare.partition("e")
    if exponent and _MANTISSA.fullmatch(mantissa) and _POWER.fullmatch(power):
        return (
            f"exponent notation is not accepted: {_shown(text)}; "
            f'write the plain digits (e.g. "12.50")'
        )
    shape = _SHAPE.fullmatch(text)
    if shape is not None:
        integer, fraction = shape.group(2), shape.group(3) or ""
        if len(integer) > MAX_INTEGER_DIGITS:
            return (
                f"absurdly large amount: more than {MAX_INTEGER_DIGITS} integer digits "
                f"({len(integer)})"
            )
        if len(fraction) > places:
            return f"at most {places} decimal places, got {len(fraction)}: {_shown(text)}"
    return (
        f"not a decimal: {_shown(text)} (plain digits with an optional '-' and decimal point only)"
    )


Sign = Literal["any", "non_negative", "positive"]


def _decimal_parser(places: int, sign: Sign) -> Callable[[Any], Decimal]:
    plain = re.compile(decimal_pattern(places)[1:-1])
    quantum = Decimal(1).scaleb(-places)

    def check_sign(value: Decimal) -> Decimal:
        if sign == "positive" and value <= 0:
            raise ValueError("must be greater than 0")
        if sign == "non_negative" and value < 0:
            raise ValueError("must not be negative")
        return value

    def parse(value: Any) -> Decimal:
        if isinstance(value, str):
            if plain.fullmatch(value) is None:
                raise ValueError(_why_not(value, places))
            return check_sign(Decimal(value))
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"not a finite decimal: {value}")
            if value and value.adjusted() > _LARGEST_ADJUSTED:
                raise ValueError(
                    f"absurdly large amount: more than {MAX_INTEGER_DIGITS} integer digits"
                )
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -places:
                rounded = _EXACT.quantize(value, quantum)
                if rounded != value:
                    raise ValueError(f"at most {places} decimal places")
                value = rounded
            return check_sign(value)
        if isinstance(value, bool):
            raise ValueError("expected a decimal string, got a boolean")
        if isinstance(value, int | float):
            raise ValueError(NUMBER_REFUSED)
        raise ValueError(f"expected a decimal string, got {type(value).__name__}")

    return parse


def _to_wire(value: Decimal) -> str:
    return format(value, "f")


class BoundedDecimal:
    """`Annotated[Decimal, BoundedDecimal(...)]`: a plain decimal string on the wire with at most
    `places` decimal places and 15 integer digits, of the given sign (see the module docstring)."""

    def __init__(self, places: int, sign: Sign, description: str) -> None:
        self.places = places
        self.parse = _decimal_parser(places, sign)
        rule = {"any": "", "non_negative": "; not negative", "positive": "; greater than 0"}[sign]
        self.json_schema: dict[str, Any] = {
            "type": "string",
            "pattern": decimal_pattern(places),
            "maxLength": MAX_INTEGER_DIGITS + places + 2,
            "description": f"{description}: decimal string, at most {MAX_INTEGER_DIGITS} integer "
            f"digits and {places} decimal places, no exponent{rule}",
        }

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.parse,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _to_wire, return_schema=core_schema.str_schema(), when_used="json"
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return dict(self.json_schema)


SignedQuantity = Annotated[Decimal, BoundedDecimal(QUANTITY_PLACES, "any", "signed quantity")]
"""A holdings quantity or a signed holdings delta."""
Quantity = Annotated[Decimal, BoundedDecimal(QUANTITY_PLACES, "non_negative", "quantity")]
PositiveQuantity = Annotated[Decimal, BoundedDecimal(QUANTITY_PLACES, "positive", "quantity")]
Price = Annotated[Decimal, BoundedDecimal(PRICE_PLACES, "positive", "price")]
SignedMoney = Annotated[Decimal, BoundedDecimal(CASH_PLACES, "any", "signed cash amount")]
"""A cash balance or a signed cash delta."""
Money = Annotated[Decimal, BoundedDecimal(CASH_PLACES, "non_negative", "cash amount")]
PositiveMoney = Annotated[Decimal, BoundedDecimal(CASH_PLACES, "positive", "cash amount")]
Percent = Annotated[Decimal, BoundedDecimal(PERCENT_PLACES, "positive", "percent")]
PercentOrZero = Annotated[Decimal, BoundedDecimal(PERCENT_PLACES, "non_negative", "percent")]
"""Alpaca's weight/band percent: positive, at most two decimals."""


def _symbol(value: str) -> str:
    if not _SYMBOL_RE.match(value):
        raise ValueError(
            f"invalid symbol {_shown(value)}: upper-case letters, digits and . - / only"
        )
    return value


Symbol = Annotated[
    str, AfterValidator(_symbol), WithJsonSchema({"type": "string", "pattern": SYMBOL_PATTERN})
]


def id_rule(max_length: int) -> Callable[[str], str]:
    """The validator of an id of 1..`max_length` printable characters without white space."""

    def check(value: str) -> str:
        if 0 < len(value) <= max_length and value.isprintable() and " " not in value:
            return value
        raise ValueError(
            f"ids are 1..{max_length} printable characters without white space or control "
            f"characters (got {len(value)} characters)"
        )

    return check


def id_schema(max_length: int) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": ID_PATTERN.replace("{1,128}", f"{{1,{max_length}}}"),
    }


EntityId = Annotated[
    str, AfterValidator(id_rule(MAX_ID_LENGTH)), WithJsonSchema(id_schema(MAX_ID_LENGTH))
]
"""event, portfolio, model, account, optimization, run, order ids: see the module docstring."""

MAX_WEIGHTS = 500
"""Weights of a model or a portfolio's own targets (Alpaca documents no limit; 500 keeps every
optimization and run of it far below the broker's 1 MB message size)."""
MAX_POSITIONS = 1000
"""Holdings of one snapshot or delta, and orders of one external optimization."""
MAX_CONDITIONS = 8
"""Rebalance conditions of a model (Alpaca: drift bands and one calendar)."""
