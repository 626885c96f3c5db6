"""`market.prices`: the last price of a symbol with its trading flags (key `symbol`)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime

from rebal_schemas.envelope import Event
from rebal_schemas.types import Price, Symbol

TOPIC = "market.prices"


class PriceUpdated(Event):
    TOPIC = TOPIC
    event_type: Literal["market.price_updated"] = "market.price_updated"
    symbol: Symbol
    price: Price
    as_of: AwareDatetime
    tradable: bool = True
    fractionable: bool = True
    asset_class: Literal["us_equity"] = "us_equity"
    currency: Literal["USD"] = "USD"


MarketEvent = PriceUpdated
