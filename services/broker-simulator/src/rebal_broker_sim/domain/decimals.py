"""Decimal helpers shared by the order book and the fill engine (pure).

Alpaca sends and returns every quantity and amount as a decimal string; a float never appears.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache

# Alpaca accepts fractional quantities with up to 9 decimal places.
QTY_QUANTUM = Decimal("0.000000001")
PRICE_QUANTUM = Decimal("0.000000001")
# Alpaca notional amounts are dollars and cents.
NOTIONAL_QUANTUM = Decimal("0.01")


class DecimalFieldError(ValueError):
    """A field that should hold a decimal does not."""


def parse_decimal(value: object, field: str) -> Decimal:
    """Read a decimal sent as a string or a JSON number (never through float)."""
    if isinstance(value, bool) or value is None:
        raise DecimalFieldError(f"{field} must be a decimal string")
    if isinstance(value, Decimal | int):
        number = Decimal(value)
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation as exc:
            raise DecimalFieldError(f"{field} must be a decimal string, got {value!r}") from exc
    else:
        raise DecimalFieldError(f"{field} must be a decimal string")
    if not number.is_finite():
        raise DecimalFieldError(f"{field} must be finite")
    return number


def decimal_places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only, checked by parse_decimal
    return max(0, -exponent)


def quantize_qty_down(qty: Decimal) -> Decimal:
    """Round a quantity down so that a fill never exceeds what was paid for."""
    return qty.quantize(QTY_QUANTUM, rounding=ROUND_DOWN)


def whole_shares_down(qty: Decimal) -> Decimal:
    return qty.quantize(Decimal(1), rounding=ROUND_DOWN)


def quantize_price(price: Decimal) -> Decimal:
    return price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_EVEN)


# Cached: equal decimals (1.5 and 1.50) normalize to the same text, so a hit is always right,
# and an order's quantities and prices repeat across its views.
@lru_cache(maxsize=4096)
def format_decimal(number: Decimal | None) -> str | None:
    """Plain notation without exponent or trailing zeros: Decimal('1E+2') -> '100'."""
    if number is None:
        return None
    normalized = number.normalize()
    if normalized == 0:
        return "0"
    return format(normalized, "f")
