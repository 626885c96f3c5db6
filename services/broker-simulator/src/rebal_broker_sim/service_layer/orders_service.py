"""Use cases of the trading API: submit, look up, list, cancel and expire orders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rebal_broker_sim.domain.fill_engine import has_buying_power, open_buy_reservation, plan_fill
from rebal_broker_sim.domain.fill_engine import rejection_reason as find_rejection_reason
from rebal_broker_sim.domain.orders import (
    OPEN_STATUSES,
    Order,
    OrderCanceled,
    OrderExpired,
    OrderRequest,
    OrderStatus,
    Side,
    apply,
    new_order,
    rejected_order,
)
from rebal_broker_sim.service_layer.behaviour_state import RuntimeBehaviour
from rebal_broker_sim.service_layer.errors import (
    DuplicateClientOrderId,
    InsufficientBuyingPower,
    OrderNotCancelable,
    OrderNotFound,
)
from rebal_broker_sim.service_layer.notifier import ChangeNotifier
from rebal_broker_sim.service_layer.ports import Clock, UnitOfWork, UnitOfWorkFactory
from rebal_broker_sim.service_layer.recording import fill_unsaved, record_trade_update


@dataclass(frozen=True, slots=True)
class SubmitResult:
    order: Order
    drop_response: bool  # fault injection: store the order but lose the answer


class OrderService:
    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        clock: Clock,
        behaviour: RuntimeBehaviour,
        new_order_id: Callable[[], str],
        trade_updates: ChangeNotifier,
        fill_schedule: ChangeNotifier,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._behaviour = behaviour
        self._new_order_id = new_order_id
        self._trade_updates = trade_updates
        self._fill_schedule = fill_schedule

    async def submit_order(self, request: OrderRequest) -> SubmitResult:
        now = self._clock.now()
        behaviour = self._behaviour.current
        async with self._uow_factory() as uow:
            if await uow.orders.by_client_order_id(request.account_id, request.client_order_id):
                await self._log(uow, now, request, "duplicate", DuplicateClientOrderId.http_status)
                await uow.commit()
                raise DuplicateClientOrderId()
            quote = await uow.prices.get(request.symbol)
            reason = find_rejection_reason(request, quote, behaviour)
            if reason is not None:
                order, rejected = rejected_order(request, self._new_order_id(), now, reason)
                await uow.orders.add(order)
                await record_trade_update(uow, order, rejected)
                await self._log(uow, now, request, "rejected", 200, order.id)
                await uow.commit()
                self._trade_updates.notify()
                return SubmitResult(order, drop_response=False)
            if not await self._can_afford(uow, request):
                await self._log(uow, now, request, "insufficient_buying_power", 403)
                await uow.commit()
                raise InsufficientBuyingPower("insufficient buying power")
            plan = plan_fill(behaviour, now)
            order, accepted = new_order(request, self._new_order_id(), now, plan.ratio, plan.due_at)
            await record_trade_update(uow, order, accepted)
            if plan.due_at is not None and plan.due_at <= now and quote is not None:
                order = await fill_unsaved(uow, order, quote, now)
            await uow.orders.add(order)
            drop = self._behaviour.take_dropped_response()
            outcome = "accepted_response_dropped" if drop else "accepted"
            await self._log(uow, now, request, outcome, 0 if drop else 200, order.id)
            await uow.commit()
        self._trade_updates.notify()
        if order.fill_due_at is not None:
            self._fill_schedule.notify()
        return SubmitResult(order, drop_response=drop)

    async def record_refused_request(
        self,
        account_id: str,
        client_order_id: str | None,
        symbol: str | None,
        outcome: str,
        http_status: int,
    ) -> None:
        """Log a submission refused before it reached the order book (outage, bad input)."""
        async with self._uow_factory() as uow:
            await uow.requests.record(
                self._clock.now(), account_id, client_order_id, symbol, outcome, http_status
            )
            await uow.commit()

    async def get_order(self, account_id: str, order_id: str) -> Order:
        async with self._uow_factory() as uow:
            order = await uow.orders.get(order_id)
        if order is None or order.account_id != account_id:
            raise OrderNotFound("order not found")
        return order

    async def get_order_by_client_order_id(self, account_id: str, client_order_id: str) -> Order:
        async with self._uow_factory() as uow:
            order = await uow.orders.by_client_order_id(account_id, client_order_id)
        if order is None:
            raise OrderNotFound("order not found")
        return order

    async def list_orders(
        self, account_id: str, statuses: frozenset[OrderStatus] | None, limit: int
    ) -> list[Order]:
        async with self._uow_factory() as uow:
            return await uow.orders.select(account_id, statuses, limit)

    async def cancel_order(self, account_id: str, order_id: str) -> Order:
        now = self._clock.now()
        async with self._uow_factory() as uow:
            order = await uow.orders.get(order_id)
            if order is None or order.account_id != account_id:
                raise OrderNotFound("order not found")
            if not order.is_open:
                raise OrderNotCancelable(f'order is already in "{order.status.value}" state')
            canceled_event = OrderCanceled(at=now)
            canceled = apply(order, canceled_event)
            await uow.orders.save(canceled)
            await record_trade_update(uow, canceled, canceled_event)
            await uow.commit()
        self._trade_updates.notify()
        return canceled

    async def expire_open_orders(self) -> list[Order]:
        """End of the trading day: every open day order expires (partial fills keep their qty)."""
        now = self._clock.now()
        expired: list[Order] = []
        async with self._uow_factory() as uow:
            for order in await uow.orders.select(statuses=OPEN_STATUSES):
                event = OrderExpired(at=now)
                closed = apply(order, event)
                await uow.orders.save(closed)
                await record_trade_update(uow, closed, event)
                expired.append(closed)
            await uow.commit()
        if expired:
            self._trade_updates.notify()
        return expired

    async def set_cash(self, cash: dict[str, Decimal | None]) -> None:
        """Give accounts a cash balance (buying power is then checked); None removes the limit."""
        async with self._uow_factory() as uow:
            for account_id in sorted(cash):
                await uow.accounts.set_cash(account_id, cash[account_id])
            await uow.commit()

    async def _can_afford(self, uow: UnitOfWork, request: OrderRequest) -> bool:
        if request.side is not Side.BUY:
            return True
        cash = await uow.accounts.cash(request.account_id)
        if cash is None:
            return True  # no cash limit configured for this account
        reserved = Decimal(0)
        for open_order in await uow.orders.select(request.account_id, OPEN_STATUSES):
            reserved += open_buy_reservation(open_order, await uow.prices.get(open_order.symbol))
        return has_buying_power(request, await uow.prices.get(request.symbol), cash, reserved)

    async def _log(
        self,
        uow: UnitOfWork,
        now: datetime,
        request: OrderRequest,
        outcome: str,
        http_status: int,
        order_id: str | None = None,
    ) -> None:
        await uow.requests.record(
            now,
            request.account_id,
            request.client_order_id,
            request.symbol,
            outcome,
            http_status,
            order_id,
        )
