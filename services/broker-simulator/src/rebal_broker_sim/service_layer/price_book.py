"""The price book the fill engine reads; admin and the market.prices consumer write it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from rebal_broker_sim.domain.quotes import Quote
from rebal_broker_sim.service_layer.notifier import ChangeNotifier
from rebal_broker_sim.service_layer.ports import Clock, UnitOfWorkFactory


class StoredPriceBook:
    """`PriceBook` over the unit of work; a new price wakes orders waiting to fill."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, clock: Clock, fill_schedule: ChangeNotifier
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._fill_schedule = fill_schedule

    async def set_price(
        self,
        symbol: str,
        price: Decimal,
        tradable: bool = True,
        fractionable: bool = True,
        as_of: datetime | None = None,
    ) -> None:
        if not symbol:
            raise ValueError("symbol must not be empty")
        if not price.is_finite() or price <= 0:
            raise ValueError(f"price of {symbol} must be a positive decimal")
        stamped = as_of or self._clock.now()
        async with self._uow_factory() as uow:
            current = await uow.prices.get(symbol)
            # Prices arrive at least once and possibly out of order: the newest one wins.
            if current is not None and current.updated_at and current.updated_at > stamped:
                return
            await uow.prices.put(Quote(symbol, price, tradable, fractionable, stamped))
            await uow.commit()
        self._fill_schedule.notify()

    async def get_quote(self, symbol: str) -> Quote | None:
        async with self._uow_factory() as uow:
            return await uow.prices.get(symbol)

    async def all_quotes(self) -> list[Quote]:
        async with self._uow_factory() as uow:
            return await uow.prices.all()
