"""The fill engine: which orders are refused, when and how much of an order fills (pure).

Every function takes the clock reading, the quote and the behaviour as arguments, so the
same inputs always give the same fills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rebal_broker_sim.domain.behaviour import BehaviourConfig, FillMode
from rebal_broker_sim.domain.decimals import quantize_qty_down, whole_shares_down
from rebal_broker_sim.domain.orders import (
    FillEvent,
    Order,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRequest,
    Side,
    apply,
)
from rebal_broker_sim.domain.quotes import Quote


@dataclass(frozen=True, slots=True)
class FillPlan:
    ratio: Decimal
    due_at: datetime | None  # None: this order never fills by itself


def rejection_reason(
    request: OrderRequest, quote: Quote | None, behaviour: BehaviourConfig
) -> str | None:
    """Why the order is rejected at submission, or None when it is accepted."""
    if request.symbol in behaviour.reject_symbols:
        return f"symbol {request.symbol} is configured to be rejected"
    if quote is None:
        if behaviour.reject_unknown_symbols:
            return f"unknown symbol {request.symbol}: no price"
        return None  # accepted; it fills once a price arrives
    if not quote.tradable:
        return f"asset {request.symbol} is not tradable"
    wants_fraction = request.notional is not None or (
        request.qty is not None and request.qty != whole_shares_down(request.qty)
    )
    if wants_fraction and not quote.fractionable:
        return f"asset {request.symbol} is not fractionable"
    return None


def plan_fill(behaviour: BehaviourConfig, now: datetime) -> FillPlan:
    match behaviour.fill_mode:
        case FillMode.IMMEDIATE:
            return FillPlan(Decimal(1), now)
        case FillMode.PARTIAL:
            return FillPlan(behaviour.partial_fill_ratio, now)
        case FillMode.DELAYED:
            return FillPlan(Decimal(1), now + timedelta(milliseconds=behaviour.fill_delay_ms))
        case FillMode.HOLD:
            return FillPlan(Decimal(1), None)


def order_qty_at(order: Order, price: Decimal) -> Decimal:
    """The full quantity of the order: its qty, or notional / price rounded down to 9 places."""
    if order.qty is not None:
        return order.qty
    assert order.notional is not None  # an order has exactly one of qty and notional
    return quantize_qty_down(order.notional / price)


def next_execution(order: Order, quote: Quote, now: datetime) -> FillEvent | None:
    """The execution that carries out the order's fill plan at the quote's price, if any."""
    if not order.is_open or not quote.tradable or quote.price <= 0:
        return None
    full_qty = order_qty_at(order, quote.price)
    target_qty = quantize_qty_down(full_qty * order.fill_ratio)
    if not quote.fractionable:
        target_qty = whole_shares_down(target_qty)
    execution_qty = target_qty - order.filled_qty
    if execution_qty <= 0:
        return None
    if target_qty >= full_qty:
        return OrderFilled(at=now, qty=execution_qty, price=quote.price)
    return OrderPartiallyFilled(at=now, qty=execution_qty, price=quote.price)


def execute_due_fill(order: Order, quote: Quote, now: datetime) -> tuple[Order, FillEvent | None]:
    """Run the fill plan of an order whose fill is due; an order that cannot fill is kept."""
    execution = next_execution(order, quote, now)
    if execution is None:
        return order, None
    return apply(order, execution), execution


def position_delta(side: Side, qty: Decimal) -> Decimal:
    return qty if side is Side.BUY else -qty


def cash_delta(side: Side, qty: Decimal, price: Decimal) -> Decimal:
    amount = qty * price
    return -amount if side is Side.BUY else amount


def buying_power_needed(request: OrderRequest, quote: Quote | None) -> Decimal:
    """Cash a buy order reserves; sells need none (proceeds are not pre-spent)."""
    if request.side is Side.SELL:
        return Decimal(0)
    if request.notional is not None:
        return request.notional
    assert request.qty is not None
    return request.qty * quote.price if quote is not None else Decimal(0)


def open_buy_reservation(order: Order, quote: Quote | None) -> Decimal:
    """Cash still held back for the unfilled part of an open buy order."""
    if not order.is_open or order.side is not Side.BUY:
        return Decimal(0)
    spent = order.filled_qty * (order.filled_avg_price or Decimal(0))
    if order.notional is not None:
        return max(Decimal(0), order.notional - spent)
    assert order.qty is not None
    price = quote.price if quote is not None else (order.filled_avg_price or Decimal(0))
    return (order.qty - order.filled_qty) * price


def has_buying_power(
    request: OrderRequest,
    quote: Quote | None,
    cash: Decimal,
    reserved: Decimal,
) -> bool:
    if request.side is Side.SELL:
        return True  # a sell never needs cash, even on an account already over-committed
    return buying_power_needed(request, quote) <= cash - reserved
