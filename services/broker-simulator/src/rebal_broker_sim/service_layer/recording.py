"""Writes shared by every handler: store an order change and its trade update together."""

from __future__ import annotations

from datetime import datetime

from rebal_broker_sim.domain.fill_engine import cash_delta, execute_due_fill, position_delta
from rebal_broker_sim.domain.orders import TRADE_UPDATE_NAMES, Order, OrderEvent
from rebal_broker_sim.domain.quotes import Quote
from rebal_broker_sim.service_layer.ports import UnitOfWork
from rebal_broker_sim.service_layer.views import order_view


async def record_trade_update(uow: UnitOfWork, order: Order, event: OrderEvent) -> int:
    """Append the Alpaca trade update for a non-fill event (new, canceled, expired, rejected)."""
    return await uow.trade_events.append(
        at=event.at,
        account_id=order.account_id,
        event=TRADE_UPDATE_NAMES[type(event)],
        order=order_view(order),
    )


async def fill_if_possible(uow: UnitOfWork, order: Order, quote: Quote, now: datetime) -> Order:
    """Execute the order's due fill at the quote: order, position, cash and trade update."""
    filled = await fill_unsaved(uow, order, quote, now)
    if filled is not order:
        await uow.orders.save(filled)
    return filled


async def fill_unsaved(uow: UnitOfWork, order: Order, quote: Quote, now: datetime) -> Order:
    """`fill_if_possible` but the order row is the caller's to write: a new order filled on
    submission is inserted once, already filled, instead of inserted and then updated."""
    filled, execution = execute_due_fill(order, quote, now)
    if execution is None:
        return order
    position = await uow.accounts.add_to_position(
        order.account_id, order.symbol, position_delta(order.side, execution.qty)
    )
    await uow.accounts.add_to_cash(
        order.account_id, cash_delta(order.side, execution.qty, execution.price)
    )
    await uow.trade_events.append(
        at=execution.at,
        account_id=filled.account_id,
        event=TRADE_UPDATE_NAMES[type(execution)],
        order=order_view(filled),
        qty=execution.qty,
        price=execution.price,
        position_qty=position,
    )
    return filled
