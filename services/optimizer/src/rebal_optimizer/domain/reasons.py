"""Machine-readable reasons attached to optimizations (InvestSuite `reasons`, Alpaca `reason`)."""

from __future__ import annotations

from dataclasses import dataclass

PRICE_MISSING = "PRICE_MISSING"
PRICE_STALE = "PRICE_STALE"
PRICE_INVALID = "PRICE_INVALID"
ASSET_NOT_TRADABLE = "ASSET_NOT_TRADABLE"
NOTHING_TO_TRADE = "NOTHING_TO_TRADE"
NO_PORTFOLIO_VALUE = "NO_PORTFOLIO_VALUE"
WITHDRAWAL_SHORTFALL = "WITHDRAWAL_SHORTFALL"
ORDER_LESS_THAN_MIN_NOTIONAL = "ORDER_LESS_THAN_MIN_NOTIONAL"
EXTERNAL_INVALID_QUANTITY = "EXTERNAL_INVALID_QUANTITY"
EXTERNAL_SELL_EXCEEDS_HOLDING = "EXTERNAL_SELL_EXCEEDS_HOLDING"
EXTERNAL_BUY_EXCEEDS_CASH = "EXTERNAL_BUY_EXCEEDS_CASH"
ORDER_OUT_OF_BOUNDS = "ORDER_OUT_OF_BOUNDS"  # a quantity or amount the wire cannot carry
ARITHMETIC_ERROR = "ARITHMETIC_ERROR"  # decimal overflow or invalid operation while planning

# Reasons that make an optimization fail (not recommended) rather than merely inform.
FAILURE_CODES = frozenset(
    {
        PRICE_MISSING,
        PRICE_STALE,
        PRICE_INVALID,
        ASSET_NOT_TRADABLE,
        EXTERNAL_INVALID_QUANTITY,
        EXTERNAL_SELL_EXCEEDS_HOLDING,
        EXTERNAL_BUY_EXCEEDS_CASH,
        ORDER_OUT_OF_BOUNDS,
        ARITHMETIC_ERROR,
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    symbol: str | None = None
    detail: str = ""

    @property
    def is_failure(self) -> bool:
        return self.code in FAILURE_CODES
