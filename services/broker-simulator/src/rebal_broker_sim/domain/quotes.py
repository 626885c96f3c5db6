"""The last known price of a symbol, as the fill engine sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: Decimal
    tradable: bool = True
    fractionable: bool = True
    updated_at: datetime | None = None
