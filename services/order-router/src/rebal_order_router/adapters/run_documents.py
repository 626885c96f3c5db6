"""`RunExecution` <-> the JSON document of collection `executions` (one document per run).

Besides the domain state the document keeps what only the service needs: the envelope of the
optimization.ready that created the run, the schema's integer leg of every order, and which
intents the dispatcher has started to send (those are looked up before any re-send).
Decimals are stored as strings and times as ISO 8601, never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_order_router.domain import (
    Order,
    OrderSide,
    OrderStatus,
    RunExecution,
    RunMeta,
    StoredRun,
    done_day,
    needs_dispatch,
)
from rebal_runtime.repository import DocumentMapper

COLLECTION = "executions"
FORMAT_VERSION = 1


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _untime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _order_to_doc(order: Order) -> dict[str, Any]:
    return {
        "leg": order.leg,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "qty": _dec(order.qty),
        "notional": _dec(order.notional),
        "status": order.status.value,
        "broker_order_id": order.broker_order_id,
        "filled_qty": _dec(order.filled_qty),
        "filled_avg_price": _dec(order.filled_avg_price),
        "last_fill_at": _time(order.last_fill_at),
        "closed_at": _time(order.closed_at),
        "close_detail": order.close_detail,
    }


def _order_from_doc(run_id: str, doc: dict[str, Any]) -> Order:
    return Order(
        run_id=run_id,
        leg=doc["leg"],
        client_order_id=doc["client_order_id"],
        symbol=doc["symbol"],
        side=OrderSide(doc["side"]),
        qty=_undec(doc["qty"]),
        notional=_undec(doc["notional"]),
        status=OrderStatus(doc["status"]),
        broker_order_id=doc["broker_order_id"],
        filled_qty=_undec(doc["filled_qty"]) or Decimal(0),
        filled_avg_price=_undec(doc["filled_avg_price"]),
        last_fill_at=_untime(doc["last_fill_at"]),
        closed_at=_untime(doc["closed_at"]),
        close_detail=doc["close_detail"],
    )


def run_to_doc(stored: StoredRun) -> dict[str, Any]:
    run, meta = stored.run, stored.meta
    return {
        "format": FORMAT_VERSION,
        "run_id": run.run_id,
        "portfolio_id": run.portfolio_id,
        "account_id": run.account_id,
        "canceled_at": _time(run.canceled_at),
        "cancel_reason": run.cancel_reason,
        "orders": [_order_to_doc(o) for o in run.orders],
        "ready_event_id": meta.ready_event_id,
        "correlation_id": meta.correlation_id,
        "schema_legs": dict(sorted(meta.schema_legs.items())),
        "attempted": sorted(meta.attempted),
    }


def run_from_doc(doc: dict[str, Any]) -> StoredRun:
    run_id = doc["run_id"]
    run = RunExecution(
        run_id=run_id,
        portfolio_id=doc["portfolio_id"],
        account_id=doc["account_id"],
        orders=tuple(_order_from_doc(run_id, o) for o in doc["orders"]),
        canceled_at=_untime(doc["canceled_at"]),
        cancel_reason=doc["cancel_reason"],
    )
    meta = RunMeta(
        ready_event_id=doc["ready_event_id"],
        correlation_id=doc["correlation_id"],
        schema_legs={k: int(v) for k, v in doc["schema_legs"].items()},
        attempted=frozenset(doc["attempted"]),
    )
    return StoredRun(run, meta)


# Index fields (store.query): which runs the background loops must look at.
NEEDS_DISPATCH = "needs_dispatch"
OPEN = "open"
DONE_DAY = "done_day"
"""UTC day (YYYYMMDD) a run's last order became final: finds the recent runs to re-report."""


def run_index(stored: StoredRun) -> dict[str, int | None]:
    """None removes the run from an index, so queries only ever find runs with work."""
    return {
        NEEDS_DISPATCH: 1 if needs_dispatch(stored) else None,
        OPEN: None if stored.run.is_complete else 1,
        DONE_DAY: done_day(stored),
    }


RUN_MAPPER = DocumentMapper(run_to_doc, run_from_doc, run_index)
