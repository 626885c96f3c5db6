"""What the order-router publishes: `order.filled` and `order.closed` facts (pure values).

The service layer maps them onto the rebal_schemas events; `dedupe_key` is stable across
re-processing, so it can seed a deterministic event_id for the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from rebal_order_router.domain.values import CloseReason, OrderSide


def _plain(number: Decimal) -> str:
    # "5", "5.0" and "5E+0" are the same quantity: one spelling so keys are stable.
    return format(number.normalize(), "f")


@dataclass(frozen=True)
class OrderFilled:
    """An execution: the order's cumulative filled quantity and average price so far."""

    run_id: str
    leg: str
    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: OrderSide
    filled_qty: Decimal
    filled_avg_price: Decimal
    filled_at: datetime
    trade_date: date
    is_final: bool  # True when this fill completed the order (status FILLED)

    @property
    def dedupe_key(self) -> str:
        # finality is part of the key: a completion at an already-reported quantity is news
        final = ":final" if self.is_final else ""
        return f"{self.client_order_id}:filled:{_plain(self.filled_qty)}{final}"


@dataclass(frozen=True)
class OrderClosed:
    """The order ended without a (full) fill; `filled_qty` is the cumulative quantity at close."""

    run_id: str
    leg: str
    client_order_id: str
    broker_order_id: str | None
    symbol: str
    side: OrderSide
    reason: CloseReason
    detail: str
    filled_qty: Decimal
    filled_avg_price: Decimal | None
    closed_at: datetime
    # closed because its run was canceled (a leg never sent, an open order the cancel ended):
    # the run's end is its run.execution_stopped, not this close
    run_canceled: bool = False

    @property
    def dedupe_key(self) -> str:
        return f"{self.client_order_id}:closed"


OrderFact = OrderFilled | OrderClosed
