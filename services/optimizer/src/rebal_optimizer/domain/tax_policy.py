"""The two tax settings of a portfolio: which lots a sale consumes (lot_selection.py) and whether
buys wait out a wash-sale window (wash_sale.py)."""

from __future__ import annotations

from enum import StrEnum


class LotPolicy(StrEnum):
    FIFO = "fifo"
    HIFO = "hifo"
    TAX_MIN = "tax_min"


class WashSaleGuard(StrEnum):
    OFF = "off"  # today's behaviour: buys are never held back
    HOLD = "hold"  # a buy within 30 days after a loss sale of the symbol is held back
