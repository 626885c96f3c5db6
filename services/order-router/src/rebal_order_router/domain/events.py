"""What the broker (or the router itself) reports about one order: the inputs of `Order.apply`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rebal_order_router.domain.values import require_aware


class OrderEventKind(StrEnum):
    """Past-tense names; each maps onto one or more Alpaca statuses / trade-update events."""

    ACCEPTED = "accepted"  # Alpaca new / accepted / pending_new: the broker holds the order
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    ABANDONED = "abandoned"  # ours: a lookup proved the broker never got it; it will not be sent
    # ours: the execution window closed before it was sent (and the broker provably never got
    # it): it expires, as a day order at the broker does at the close
    WINDOW_CLOSED = "window_closed"


FILL_KINDS = frozenset({OrderEventKind.PARTIALLY_FILLED, OrderEventKind.FILLED})

# Reports that can only come from an order the broker holds, so they always name it. REJECTED
# may not (a submit refused with a 4xx never became an order); ours never do.
KINDS_NAMING_BROKER_ORDER = FILL_KINDS | {
    OrderEventKind.ACCEPTED,
    OrderEventKind.CANCELED,
    OrderEventKind.EXPIRED,
}

# Reports of the router itself about an intent the broker provably never got.
KINDS_OF_UNSENT = frozenset({OrderEventKind.ABANDONED, OrderEventKind.WINDOW_CLOSED})


@dataclass(frozen=True)
class OrderEvent:
    """One report about an order.

    `filled_qty` is CUMULATIVE (Alpaca's order.filled_qty) and `filled_avg_price` the average
    over all fills so far: a report that does not raise the known cumulative quantity carries no
    new execution, which is what makes redelivered and reordered reports harmless.
    Terminal reports (canceled, expired) may carry a partial fill learned only at close.
    """

    kind: OrderEventKind
    at: datetime
    broker_order_id: str | None = None
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        require_aware(self.at, "event time")
        if self.kind in KINDS_NAMING_BROKER_ORDER and not self.broker_order_id:
            raise ValueError(f"a {self.kind} report must carry the broker order id")
        if self.kind in KINDS_OF_UNSENT and self.broker_order_id is not None:
            raise ValueError(f"an intent closed as {self.kind} (never sent) has no broker order")
        if self.filled_qty < 0:
            raise ValueError(f"filled_qty must be >= 0, got {self.filled_qty}")
