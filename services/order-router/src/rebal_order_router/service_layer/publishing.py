"""Domain facts -> the `order.filled` / `order.closed` events of rebal_schemas.

Event ids are derived from the fact's dedupe key, so re-deriving the same fact (a retried
commit, a replayed report) yields the same event_id and consumers drop the copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rebal_order_router.domain import OrderClosed, OrderFact, OrderFilled, StoredRun
from rebal_schemas import CloseReason, Event, OrderSide
from rebal_schemas import OrderClosed as OrderClosedEvent
from rebal_schemas import OrderFilled as OrderFilledEvent


def event_id_for(run_id: str, dedupe_key: str) -> str:
    digest = hashlib.sha256(f"{run_id}\x00{dedupe_key}".encode()).hexdigest()
    return f"orr-{digest[:40]}"


def run_envelope(
    stored: StoredRun, event_id: str, producer: str, recorded_at: datetime
) -> dict[str, Any]:
    """The envelope and run fields every event of the order-router about a run carries."""
    run, meta = stored.run, stored.meta
    return {
        "event_id": event_id,
        "producer": producer,
        "correlation_id": meta.correlation_id,
        "causation_id": meta.ready_event_id,
        "recorded_at": recorded_at,
        "run_id": run.run_id,
        "portfolio_id": run.portfolio_id,
    }


def events_for(
    facts: Iterable[OrderFact], stored: StoredRun, producer: str, recorded_at: datetime
) -> list[Event]:
    return [event_for(fact, stored, producer, recorded_at) for fact in facts]


def event_for(fact: OrderFact, stored: StoredRun, producer: str, recorded_at: datetime) -> Event:
    event_id = event_id_for(stored.run.run_id, fact.dedupe_key)
    common = {
        **run_envelope(stored, event_id, producer, recorded_at),
        "leg": stored.meta.schema_legs[fact.client_order_id],
        "client_order_id": fact.client_order_id,
        "broker_order_id": fact.broker_order_id,
        "symbol": fact.symbol,
        "side": OrderSide(fact.side.value),
    }
    if isinstance(fact, OrderFilled):
        return OrderFilledEvent(
            occurred_at=fact.filled_at,
            filled_qty=fact.filled_qty,
            filled_avg_price=fact.filled_avg_price,
            trade_date=fact.trade_date,
            filled_at=fact.filled_at,
            status="filled" if fact.is_final else "partially_filled",
            **common,
        )
    assert isinstance(fact, OrderClosed)
    return OrderClosedEvent(
        occurred_at=fact.closed_at,
        status=CloseReason(fact.reason.value),
        filled_qty=fact.filled_qty,
        filled_avg_price=fact.filled_avg_price if fact.filled_qty > 0 else None,
        reason=fact.detail,
        closed_at=fact.closed_at,
        run_canceled=fact.run_canceled,
        **common,
    )
