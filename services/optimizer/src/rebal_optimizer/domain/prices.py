"""Last prices as the optimizer knows them, and the checks that make a price usable."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rebal_optimizer.domain.reasons import (
    ASSET_NOT_TRADABLE,
    PRICE_INVALID,
    PRICE_MISSING,
    PRICE_STALE,
    Reason,
)


@dataclass(frozen=True, slots=True)
class Price:
    price: Decimal
    tradable: bool
    fractionable: bool
    as_of: datetime

    def __post_init__(self) -> None:
        if self.as_of.tzinfo is None:
            raise ValueError("Price.as_of must be timezone-aware (UTC)")


def require_aware(now: datetime) -> None:
    """The domain compares instants from many sources; a naive one is a caller bug."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")


Prices = Mapping[str, Price]


def valuation_problems(
    symbols: Iterable[str], prices: Prices, now: datetime, max_price_age: timedelta
) -> list[Reason]:
    """Reasons why some symbol cannot be valued: no price, a non-positive one, or a stale one."""
    problems: list[Reason] = []
    oldest_allowed = now - max_price_age
    for symbol in sorted(set(symbols)):
        quote = prices.get(symbol)
        if quote is None:
            problems.append(Reason(PRICE_MISSING, symbol, "no price received"))
        elif not (quote.price.is_finite() and quote.price > 0):
            problems.append(Reason(PRICE_INVALID, symbol, f"price {quote.price} is not positive"))
        elif quote.as_of < oldest_allowed:
            problems.append(
                Reason(PRICE_STALE, symbol, f"price as of {quote.as_of.isoformat()} is too old")
            )
    return problems


def trading_problems(symbols: Iterable[str], prices: Prices) -> list[Reason]:
    """Symbols that have a price but cannot be traded (delisted, halted, ...)."""
    return [
        Reason(ASSET_NOT_TRADABLE, symbol, "asset is not tradable")
        for symbol in sorted(set(symbols))
        if symbol in prices and not prices[symbol].tradable
    ]
