"""A Run as one store document (collection `runs`, id = run id): a JSON dict, decimals as strings.

The document holds the run's FACTS (plan, best-known fill and close per leg, settlement dates,
completion); `run_from_document` rebuilds exactly the Run that was saved. It also carries a
`transactions` view derived from those facts, for people and tools reading the store; it is
rewritten on every save and ignored on load, so it can never disagree with the facts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rebal_runtime.repository import DocumentMapper, Repository
from rebal_runtime.store import DocumentStore
from rebal_settlement_tracker.domain import (
    CloseReason,
    FactKind,
    FactSource,
    OrderClosed,
    OrderFilled,
    PendingFact,
    PlannedOrder,
    RejectCode,
    Rejection,
    Run,
    RunStatus,
    Side,
    SkippedOrder,
    Transaction,
)
from rebal_settlement_tracker.service_layer.run_records import RunRecord

JsonDict = dict[str, Any]
DOCUMENT_VERSION = 1
RUNS = "runs"
EARLY_LETTERS = "early_letters"  # run document field: event id -> dead letter of an early fact
# run document field: the run.completed it published (event_id, completed_at), to re-publish the
# same event if the broker loses it (`rereport.py`)
COMPLETION_REPORT = "completion_report"


def record_to_document(record: RunRecord) -> JsonDict:
    state = run_to_document(record.run)
    if record.letters:
        state[EARLY_LETTERS] = record.letters
    if record.report:
        state[COMPLETION_REPORT] = record.report
    return state


def record_from_document(state: JsonDict) -> RunRecord:
    report = state.get(COMPLETION_REPORT)
    return RunRecord(
        run_from_document(state),
        dict(state.get(EARLY_LETTERS) or {}),
        dict(report) if report else None,
    )


def run_repository(store: DocumentStore) -> Repository[RunRecord]:
    """Runs by run id; the index values come with each outcome (they need the calendar)."""
    return Repository(store, RUNS, DocumentMapper(record_to_document, record_from_document))


def run_to_document(run: Run) -> JsonDict:
    return {
        "document_version": DOCUMENT_VERSION,
        "run_id": run.run_id,
        "portfolio_id": run.portfolio_id,
        "account_id": run.account_id,
        "run_type": run.run_type,
        "broker_integration": run.broker_integration,
        "orders": None if run.orders is None else [_order_to_json(o) for o in run.orders],
        "skipped_orders": [_skipped_to_json(s) for s in run.skipped_orders],
        "fills": {str(leg): _fill_to_json(f) for leg, f in sorted(run.fills.items())},
        "closes": {str(leg): _close_to_json(c) for leg, c in sorted(run.closes.items())},
        "settlements": {str(leg): d.isoformat() for leg, d in sorted(run.settlements.items())},
        "pending": [_pending_to_json(p) for p in run.pending],
        "rejections": [_rejection_to_json(r) for r in run.rejections],
        "rejected_facts": len(run.rejections),
        "canceled_at": _instant(run.canceled_at),
        "canceled_before_execution": run.canceled_before_execution,
        "completed": run.completed,
        "final_status": run.final_status.value if run.final_status else None,
        "status": run.status.value,
        "transactions": [_transaction_view(tx) for _, tx in sorted(run.transactions.items())],
    }


def run_from_document(state: Mapping[str, Any]) -> Run:
    version = state.get("document_version")
    if version != DOCUMENT_VERSION:
        raise ValueError(f"run document version {version!r} is not {DOCUMENT_VERSION}")
    orders = state["orders"]
    return Run(
        run_id=state["run_id"],
        portfolio_id=state["portfolio_id"],
        account_id=state["account_id"],
        run_type=state["run_type"],
        broker_integration=state["broker_integration"],
        orders=None if orders is None else tuple(_order_from_json(o) for o in orders),
        skipped_orders=tuple(_skipped_from_json(s) for s in state["skipped_orders"]),
        fills={int(leg): _fill_from_json(f) for leg, f in state["fills"].items()},
        closes={int(leg): _close_from_json(c) for leg, c in state["closes"].items()},
        settlements={int(leg): date.fromisoformat(d) for leg, d in state["settlements"].items()},
        # absent from documents written before early facts were kept apart and judged
        pending=tuple(_pending_from_json(p) for p in state.get("pending", ())),
        rejections=tuple(_rejection_from_json(r) for r in state.get("rejections", ())),
        canceled_at=_parse_instant(state["canceled_at"]),
        canceled_before_execution=state["canceled_before_execution"],
        completed=state["completed"],
        final_status=RunStatus(state["final_status"]) if state["final_status"] else None,
    )


# ---- pieces -------------------------------------------------------------------------------


def _decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _parse_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _parse_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _order_to_json(order: PlannedOrder) -> JsonDict:
    return {
        "leg": order.leg,
        "symbol": order.symbol,
        "side": order.side.value,
        "qty": _decimal(order.qty),
        "notional": _decimal(order.notional),
        "asset_class": order.asset_class,
        "expected_price": _decimal(order.expected_price),
    }


def _order_from_json(data: Mapping[str, Any]) -> PlannedOrder:
    return PlannedOrder(
        leg=data["leg"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        qty=_parse_decimal(data["qty"]),
        notional=_parse_decimal(data["notional"]),
        asset_class=data["asset_class"],
        expected_price=_parse_decimal(data.get("expected_price")),
    )


def _skipped_to_json(skipped: SkippedOrder) -> JsonDict:
    return {
        "symbol": skipped.symbol,
        "side": skipped.side.value,
        "notional": str(skipped.notional),
        "reason": skipped.reason,
        "reason_details": skipped.reason_details,
    }


def _skipped_from_json(data: Mapping[str, Any]) -> SkippedOrder:
    return SkippedOrder(
        symbol=data["symbol"],
        side=Side(data["side"]),
        notional=Decimal(data["notional"]),
        reason=data["reason"],
        reason_details=data["reason_details"],
    )


def _fill_to_json(fill: OrderFilled) -> JsonDict:
    return {
        "cum_qty": str(fill.cum_qty),
        "avg_price": str(fill.avg_price),
        "trade_date": fill.trade_date.isoformat(),
        "executed_at": fill.executed_at.isoformat(),
        "fully_filled": fill.fully_filled,
    }


def _fill_from_json(data: Mapping[str, Any]) -> OrderFilled:
    return OrderFilled(
        cum_qty=Decimal(data["cum_qty"]),
        avg_price=Decimal(data["avg_price"]),
        trade_date=date.fromisoformat(data["trade_date"]),
        executed_at=datetime.fromisoformat(data["executed_at"]),
        fully_filled=data["fully_filled"],
    )


def _close_to_json(close: OrderClosed) -> JsonDict:
    return {
        "reason": close.reason.value,
        "cum_qty": str(close.cum_qty),
        "closed_at": close.closed_at.isoformat(),
    }


def _close_from_json(data: Mapping[str, Any]) -> OrderClosed:
    return OrderClosed(
        reason=CloseReason(data["reason"]),
        cum_qty=Decimal(data["cum_qty"]),
        closed_at=datetime.fromisoformat(data["closed_at"]),
    )


def _source_to_json(source: FactSource | None) -> JsonDict | None:
    if source is None:
        return None
    return {
        "event_id": source.event_id,
        "symbol": source.symbol,
        "side": source.side.value if source.side else None,
        "signer": source.signer,
        "signature": source.signature,
    }


def _source_from_json(data: Mapping[str, Any] | None) -> FactSource | None:
    if data is None:
        return None
    return FactSource(
        event_id=data["event_id"],
        symbol=data["symbol"],
        side=Side(data["side"]) if data["side"] else None,
        signer=data["signer"],
        signature=data["signature"],
    )


def _pending_to_json(early: PendingFact) -> JsonDict:
    fact = early.fact
    body = _fill_to_json(fact) if isinstance(fact, OrderFilled) else _close_to_json(fact)
    return {
        "kind": early.kind.value,
        "leg": early.leg,
        "fact": body,
        "source": _source_to_json(early.source),
    }


def _pending_from_json(data: Mapping[str, Any]) -> PendingFact:
    kind = FactKind(data["kind"])
    parse = _fill_from_json if kind is FactKind.FILL else _close_from_json
    return PendingFact(kind, data["leg"], parse(data["fact"]), _source_from_json(data["source"]))


def _rejection_to_json(rejection: Rejection) -> JsonDict:
    return {
        "kind": rejection.kind.value,
        "leg": rejection.leg,
        "code": rejection.code.value,
        "detail": rejection.detail,
        "event_id": rejection.event_id,
    }


def _rejection_from_json(data: Mapping[str, Any]) -> Rejection:
    return Rejection(
        FactKind(data["kind"]),
        data["leg"],
        RejectCode(data["code"]),
        data["detail"],
        data["event_id"],
    )


def _transaction_view(tx: Transaction) -> JsonDict:
    return {
        "leg": tx.leg,
        "symbol": tx.symbol,
        "side": tx.side.value,
        "status": tx.status.value,
        "planned_qty": _decimal(tx.planned_qty),
        "planned_notional": _decimal(tx.planned_notional),
        "filled_qty": str(tx.filled_qty),
        "avg_price": _decimal(tx.avg_price),
        "trade_date": tx.trade_date.isoformat() if tx.trade_date else None,
        "close_reason": tx.close_reason.value if tx.close_reason else None,
        "settled_on": tx.settled_on.isoformat() if tx.settled_on else None,
    }
