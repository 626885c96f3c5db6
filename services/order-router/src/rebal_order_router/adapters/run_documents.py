"""`RunExecution` <-> the JSON document of collection `executions` (one document per run).

Besides the domain state the document keeps what only the service needs: the envelope of the
optimization.ready that created the run, the schema's integer leg of every order, and which
intents the dispatcher has started to send (those are looked up before any re-send). Format 2
adds each order's expected price and the run's execution start (queued, started, stopped, and
how many times it queued again: absent in older documents, read as none); a format 1 document
reads as a run that started at once. An order's `closed_by_run_cancel` came later still; absent,
it is read from the order's status (a leg never sent closes only by a cancel; a canceled order
of a canceled run is taken as the run's). Decimals are stored as strings and times as ISO 8601,
never floats.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rebal_order_router.domain import (
    ExecutionStart,
    Order,
    OrderSide,
    OrderStatus,
    RunExecution,
    RunMeta,
    StopOutcome,
    StoredRun,
    done_day,
    needs_dispatch,
)
from rebal_runtime.repository import DocumentMapper

COLLECTION = "executions"
FORMAT_VERSION = 2


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
        "expected_price": _dec(order.expected_price),
        "closed_by_run_cancel": order.closed_by_run_cancel,
    }


def _order_from_doc(run_id: str, doc: dict[str, Any], run_canceled: bool) -> Order:
    status = OrderStatus(doc["status"])
    by_cancel = status is OrderStatus.NOT_EXECUTED or (
        run_canceled and status is OrderStatus.CANCELED
    )
    return Order(
        run_id=run_id,
        leg=doc["leg"],
        client_order_id=doc["client_order_id"],
        symbol=doc["symbol"],
        side=OrderSide(doc["side"]),
        qty=_undec(doc["qty"]),
        notional=_undec(doc["notional"]),
        status=status,
        broker_order_id=doc["broker_order_id"],
        filled_qty=_undec(doc["filled_qty"]) or Decimal(0),
        filled_avg_price=_undec(doc["filled_avg_price"]),
        last_fill_at=_untime(doc["last_fill_at"]),
        closed_at=_untime(doc["closed_at"]),
        close_detail=doc["close_detail"],
        expected_price=_undec(doc.get("expected_price")),
        closed_by_run_cancel=doc.get("closed_by_run_cancel", by_cancel),
    )


def _start_to_doc(start: ExecutionStart) -> dict[str, Any]:
    return {
        "queued_at": _time(start.queued_at),
        "starts_at": _time(start.starts_at),
        "released_at": _time(start.released_at),
        "started_at": _time(start.started_at),
        "stop": None if start.stop is None else start.stop.value,
        "stop_reason": start.stop_reason,
        "stopped_at": _time(start.stopped_at),
        "stop_cause": start.stop_cause,
        "requeued": start.requeued,
    }


def _start_from_doc(doc: dict[str, Any] | None) -> ExecutionStart:
    if doc is None:  # format 1: the run started at once
        return ExecutionStart()
    return ExecutionStart(
        queued_at=_untime(doc["queued_at"]),
        starts_at=_untime(doc["starts_at"]),
        released_at=_untime(doc["released_at"]),
        started_at=_untime(doc["started_at"]),
        stop=None if doc["stop"] is None else StopOutcome(doc["stop"]),
        stop_reason=doc["stop_reason"],
        stopped_at=_untime(doc["stopped_at"]),
        stop_cause=doc["stop_cause"],
        requeued=doc.get("requeued", 0),  # absent before runs could queue again: never did
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
        "start": _start_to_doc(run.start),
        "orders": [_order_to_doc(o) for o in run.orders],
        "ready_event_id": meta.ready_event_id,
        "correlation_id": meta.correlation_id,
        "schema_legs": dict(sorted(meta.schema_legs.items())),
        "attempted": sorted(meta.attempted),
    }


def run_from_doc(doc: dict[str, Any]) -> StoredRun:
    run_id = doc["run_id"]
    canceled_at = _untime(doc["canceled_at"])
    run = RunExecution(
        run_id=run_id,
        portfolio_id=doc["portfolio_id"],
        account_id=doc["account_id"],
        orders=tuple(_order_from_doc(run_id, o, canceled_at is not None) for o in doc["orders"]),
        canceled_at=canceled_at,
        cancel_reason=doc["cancel_reason"],
        start=_start_from_doc(doc.get("start")),
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
"""1 while the run may still change at the broker (not complete, not queued): reconciled."""
DONE_DAY = "done_day"
"""UTC day (YYYYMMDD) a run's last order became final: finds the recent runs to re-report."""
QUEUED = "queued"
"""1 while the run waits for the execution window (QUEUED): the queue the drain starts."""


def run_index(stored: StoredRun) -> dict[str, int | None]:
    """None removes the run from an index, so queries only ever find runs with work."""
    return {
        NEEDS_DISPATCH: 1 if needs_dispatch(stored) else None,
        # a queued run has nothing at the broker to reconcile (the queue drain finds it)
        OPEN: None if stored.run.is_complete or stored.run.start.waiting else 1,
        DONE_DAY: done_day(stored),
        QUEUED: 1 if stored.run.start.waiting else None,
    }


RUN_MAPPER = DocumentMapper(run_to_doc, run_from_doc, run_index)
