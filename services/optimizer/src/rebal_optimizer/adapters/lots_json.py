"""Tax lots <-> JSON-able dicts for the store: a portfolio's lots, and a planned sale's consumed
lots and estimated gain (stored with its optimization). Decimals as strings, days as ISO dates.
Documents stored before lots have none of these keys and load without lots."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from rebal_optimizer.domain.lots import Lot, LotTake, RealizedGain

Json = dict[str, Any]


def dec(value: Decimal) -> str:
    return format(value, "f")


def lot_json(lot: Lot) -> Json:
    return {
        "qty": dec(lot.qty),
        "cost_per_share": dec(lot.cost_per_share),
        "acquired_on": lot.acquired_on.isoformat(),
        "estimated": lot.estimated,
    }


def lots_json(lots: Mapping[str, tuple[Lot, ...]]) -> Json:
    return {symbol: [lot_json(lot) for lot in held] for symbol, held in lots.items()}


def lots_of(d: Json) -> dict[str, tuple[Lot, ...]]:
    return {
        symbol: tuple(
            Lot(
                Decimal(x["qty"]),
                Decimal(x["cost_per_share"]),
                date.fromisoformat(x["acquired_on"]),
                x.get("estimated", False),
            )
            for x in held
        )
        for symbol, held in d.items()
    }


def sale_json(takes: tuple[LotTake, ...], gain: RealizedGain | None) -> Json:
    """A planned sale's lots and gain; nothing for a buy (and for orders stored before lots)."""
    if gain is None:
        return {}
    return {
        "lots": [
            {
                "qty": dec(t.qty),
                "cost_per_share": dec(t.cost_per_share),
                "acquired_on": t.acquired_on.isoformat(),
                "long_term": t.long_term,
                "estimated": t.estimated,
            }
            for t in takes
        ],
        "gain": {"short_term": dec(gain.short_term), "long_term": dec(gain.long_term)},
    }


def sale_of(d: Json) -> tuple[tuple[LotTake, ...], RealizedGain | None]:
    gain = d.get("gain")
    if gain is None:
        return (), None
    takes = tuple(
        LotTake(
            Decimal(t["qty"]),
            Decimal(t["cost_per_share"]),
            date.fromisoformat(t["acquired_on"]),
            t["long_term"],
            t.get("estimated", False),
        )
        for t in d.get("lots", ())
    )
    return takes, RealizedGain(Decimal(gain["short_term"]), Decimal(gain["long_term"]))
