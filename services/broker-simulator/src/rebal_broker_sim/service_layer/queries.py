"""Read side: trade updates for the event stream and polling, the admin views."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_broker_sim.domain.orders import Order
from rebal_broker_sim.service_layer.ports import OrderRequestRecord, TradeUpdate, UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class AdminSnapshot:
    orders: list[Order]
    requests: list[OrderRequestRecord]
    cash: dict[str, Decimal]


class Queries:
    def __init__(self, uow_factory: UnitOfWorkFactory) -> None:
        self._uow_factory = uow_factory

    async def trade_updates_after(
        self,
        since_id: int,
        until_id: int | None = None,
        account_id: str | None = None,
        limit: int = 500,
    ) -> list[TradeUpdate]:
        async with self._uow_factory() as uow:
            return await uow.trade_events.after(since_id, until_id, account_id, limit)

    async def last_trade_update_id(self) -> int:
        async with self._uow_factory() as uow:
            return await uow.trade_events.last_id()

    async def admin_snapshot(self) -> AdminSnapshot:
        async with self._uow_factory() as uow:
            return AdminSnapshot(
                orders=await uow.orders.select(),
                requests=await uow.requests.all(),
                cash=await uow.accounts.all_cash(),
            )
