"""Which order a report is about, by our id and the broker's."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrderRef:
    """Which order a report is about: ours (``client_order_id``) and the broker's id, if known.
    Reported on run.completed; never part of a fact's identity (``compare=False`` on the
    OrderFilled and OrderClosed that carry it)."""

    client_order_id: str | None = None
    broker_order_id: str | None = None

    def join(self, other: OrderRef | None) -> OrderRef:
        """Every id either knows (a fixed pick if they differ, so arrival order does not matter)."""
        if other is None:
            return self
        return OrderRef(
            _known(self.client_order_id, other.client_order_id),
            _known(self.broker_order_id, other.broker_order_id),
        )


def _known(a: str | None, b: str | None) -> str | None:
    return max((v for v in (a, b) if v is not None), default=None)
