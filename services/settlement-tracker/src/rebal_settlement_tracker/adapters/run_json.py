"""JSON of the pieces of a run document: facts, plan, lifecycle, views (decimals as strings)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rebal_settlement_tracker.domain import (
    CloseReason,
    FactKind,
    FactSource,
    OrderClosed,
    OrderFilled,
    OrderRef,
    PendingFact,
    PlannedOrder,
    RejectCode,
    Rejection,
    RunLifecycle,
    RunStatus,
    RunStop,
    Side,
    SkippedOrder,
    StopKind,
    TargetWeight,
    Transaction,
)
from rebal_settlement_tracker.domain.gains import Gains

JsonDict = dict[str, Any]


def decimal(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def parse_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def instant(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def parse_instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def order_to_json(order: PlannedOrder) -> JsonDict:
    return {
        "leg": order.leg,
        "symbol": order.symbol,
        "side": order.side.value,
        "qty": decimal(order.qty),
        "notional": decimal(order.notional),
        "asset_class": order.asset_class,
        "expected_price": decimal(order.expected_price),
        **gains_to_json(order.estimated_gain),
    }


def gains_to_json(gains: Gains | None) -> JsonDict:
    if gains is None:
        return {}
    return {
        "estimated_gain": {"short_term": str(gains.short_term), "long_term": str(gains.long_term)}
    }


def gains_from_json(data: Mapping[str, Any] | None) -> Gains | None:
    if data is None:
        return None
    return Gains(Decimal(data["short_term"]), Decimal(data["long_term"]))


def order_from_json(data: Mapping[str, Any]) -> PlannedOrder:
    return PlannedOrder(
        leg=data["leg"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        qty=parse_decimal(data["qty"]),
        notional=parse_decimal(data["notional"]),
        asset_class=data["asset_class"],
        expected_price=parse_decimal(data.get("expected_price")),
        estimated_gain=gains_from_json(data.get("estimated_gain")),  # absent in older documents
    )


def skipped_to_json(skipped: SkippedOrder) -> JsonDict:
    return {
        "symbol": skipped.symbol,
        "side": skipped.side.value,
        "notional": str(skipped.notional),
        "reason": skipped.reason,
        "reason_details": skipped.reason_details,
    }


def skipped_from_json(data: Mapping[str, Any]) -> SkippedOrder:
    return SkippedOrder(
        symbol=data["symbol"],
        side=Side(data["side"]),
        notional=Decimal(data["notional"]),
        reason=data["reason"],
        reason_details=data["reason_details"],
    )


def fill_to_json(fill: OrderFilled) -> JsonDict:
    return {
        "cum_qty": str(fill.cum_qty),
        "avg_price": str(fill.avg_price),
        "trade_date": fill.trade_date.isoformat(),
        "executed_at": fill.executed_at.isoformat(),
        "fully_filled": fill.fully_filled,
        **ref_to_json(fill.ref),
    }


def fill_from_json(data: Mapping[str, Any]) -> OrderFilled:
    return OrderFilled(
        cum_qty=Decimal(data["cum_qty"]),
        avg_price=Decimal(data["avg_price"]),
        trade_date=date.fromisoformat(data["trade_date"]),
        executed_at=datetime.fromisoformat(data["executed_at"]),
        fully_filled=data["fully_filled"],
        ref=ref_from_json(data),
    )


def close_to_json(close: OrderClosed) -> JsonDict:
    return {
        "reason": close.reason.value,
        "cum_qty": str(close.cum_qty),
        "closed_at": close.closed_at.isoformat(),
        "run_canceled": close.run_canceled,
        **ref_to_json(close.ref),
    }


def close_from_json(data: Mapping[str, Any]) -> OrderClosed:
    return OrderClosed(
        reason=CloseReason(data["reason"]),
        cum_qty=Decimal(data["cum_qty"]),
        closed_at=datetime.fromisoformat(data["closed_at"]),
        ref=ref_from_json(data),
        run_canceled=data.get("run_canceled", False),  # absent before the flag: the close's own
    )


def ref_to_json(ref: OrderRef | None) -> JsonDict:
    if ref is None:
        return {}
    return {"client_order_id": ref.client_order_id, "broker_order_id": ref.broker_order_id}


def ref_from_json(data: Mapping[str, Any]) -> OrderRef | None:
    if "client_order_id" not in data:  # written without one (version 1, or a direct call)
        return None
    return OrderRef(data["client_order_id"], data["broker_order_id"])


def weight_to_json(weight: TargetWeight) -> JsonDict:
    return {"type": weight.kind, "symbol": weight.symbol, "percent": str(weight.percent)}


def weight_from_json(data: Mapping[str, Any]) -> TargetWeight:
    return TargetWeight(data["type"], data["symbol"], Decimal(data["percent"]))


def lifecycle_to_json(lifecycle: RunLifecycle) -> JsonDict:
    return {
        "status": lifecycle.status.value if lifecycle.status else None,
        "created_at": instant(lifecycle.created_at),
        "updated_at": instant(lifecycle.updated_at),
        "completed_at": instant(lifecycle.completed_at),
        "reason": lifecycle.reason,
        "settled_at": instant(lifecycle.settled_at),
        "settled_when_completed": sorted(lifecycle.settled_when_completed),
    }


def lifecycle_from_json(data: Mapping[str, Any]) -> RunLifecycle:
    return RunLifecycle(
        status=RunStatus(data["status"]) if data["status"] else None,
        created_at=parse_instant(data["created_at"]),
        updated_at=parse_instant(data["updated_at"]),
        completed_at=parse_instant(data["completed_at"]),
        reason=data["reason"],
        settled_at=parse_instant(data["settled_at"]),
        settled_when_completed=frozenset(data["settled_when_completed"]),
    )


def stop_to_json(stop: RunStop | None) -> JsonDict | None:
    if stop is None:
        return None
    return {
        "kind": stop.kind.value,
        "at": stop.at.isoformat(),
        "reason": stop.reason,
        "cause": stop.cause,
    }


def stop_from_json(data: Mapping[str, Any] | None) -> RunStop | None:
    if data is None:
        return None
    return RunStop(
        StopKind(data["kind"]), datetime.fromisoformat(data["at"]), data["reason"], data["cause"]
    )


def legacy_stop(state: Mapping[str, Any]) -> RunStop | None:
    """A document written before stops kept `canceled_at` and `canceled_before_execution`: a
    cancel that closed the open legs at once, or (after an execution) waited for their closes."""
    at = parse_instant(state.get("canceled_at"))
    if at is None:
        return None
    at_once = state.get("canceled_before_execution", False)
    return RunStop(StopKind.CANCELED if at_once else StopKind.CANCELED_MID_RUN, at)


def source_to_json(source: FactSource | None) -> JsonDict | None:
    if source is None:
        return None
    return {
        "event_id": source.event_id,
        "symbol": source.symbol,
        "side": source.side.value if source.side else None,
        "signer": source.signer,
        "signature": source.signature,
    }


def source_from_json(data: Mapping[str, Any] | None) -> FactSource | None:
    if data is None:
        return None
    return FactSource(
        event_id=data["event_id"],
        symbol=data["symbol"],
        side=Side(data["side"]) if data["side"] else None,
        signer=data["signer"],
        signature=data["signature"],
    )


def pending_to_json(early: PendingFact) -> JsonDict:
    fact = early.fact
    body = fill_to_json(fact) if isinstance(fact, OrderFilled) else close_to_json(fact)
    return {
        "kind": early.kind.value,
        "leg": early.leg,
        "fact": body,
        "source": source_to_json(early.source),
    }


def pending_from_json(data: Mapping[str, Any]) -> PendingFact:
    kind = FactKind(data["kind"])
    parse = fill_from_json if kind is FactKind.FILL else close_from_json
    return PendingFact(kind, data["leg"], parse(data["fact"]), source_from_json(data["source"]))


def rejection_to_json(rejection: Rejection) -> JsonDict:
    return {
        "kind": rejection.kind.value,
        "leg": rejection.leg,
        "code": rejection.code.value,
        "detail": rejection.detail,
        "event_id": rejection.event_id,
    }


def rejection_from_json(data: Mapping[str, Any]) -> Rejection:
    return Rejection(
        FactKind(data["kind"]),
        data["leg"],
        RejectCode(data["code"]),
        data["detail"],
        data["event_id"],
    )


def transaction_view(tx: Transaction) -> JsonDict:
    return {
        "leg": tx.leg,
        "symbol": tx.symbol,
        "side": tx.side.value,
        "status": tx.status.value,
        "planned_qty": decimal(tx.planned_qty),
        "planned_notional": decimal(tx.planned_notional),
        "filled_qty": str(tx.filled_qty),
        "avg_price": decimal(tx.avg_price),
        "trade_date": tx.trade_date.isoformat() if tx.trade_date else None,
        "close_reason": tx.close_reason.value if tx.close_reason else None,
        "settled_on": tx.settled_on.isoformat() if tx.settled_on else None,
    }
