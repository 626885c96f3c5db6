"""The upcaster chain: old payloads are rewritten, step by step, to the current schema version.

An upcaster is a pure function from a payload dict at version N to version N+1. Decoding applies
the chain before validation, so handlers only ever see the current shape and old messages on a
topic (or in golden files) keep decoding after a breaking change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    def register(func: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise ValueError(f"two upcasters for {event_type} v{from_version}")
        _UPCASTERS[key] = func
        return func

    return register


def upcast(payload: Payload) -> Payload:
    event_type = payload.get("event_type")
    version = payload.get("schema_version", 1)
    if not isinstance(event_type, str) or not isinstance(version, int) or isinstance(version, bool):
        return payload
    while (step := _UPCASTERS.get((event_type, version))) is not None:
        payload = step(dict(payload))
        version += 1
        payload["schema_version"] = version
    return payload


@upcaster("model.updated", from_version=1)
def _model_v1_conditions_spelling(payload: Payload) -> Payload:
    # v1 followed Alpaca's model table (`rebalancing_conditions`); every Alpaca payload, and v2,
    # say `rebalance_conditions`.
    if "rebalancing_conditions" in payload:
        payload.setdefault("rebalance_conditions", payload.pop("rebalancing_conditions"))
    return payload


_V1_ORDER_STATUS = {
    "EXECUTED": "filled",
    "SETTLED": "filled",
    "EXPIRED": "expired",
    "CANCELLED": "canceled",
    "NOT_EXECUTED": "rejected",
    "PLANNED": "new",
}


@upcaster("run.completed", from_version=1)
def _run_v1_to_alpaca_run_object(payload: Payload) -> Payload:
    # v1 was published after settlement with rebal's own field names and per-leg InvestSuite
    # statuses; v2 is Alpaca's run object. What v1 did not say (creation time, initiator,
    # weights) takes the closest value it did say.
    run_type = payload.pop("run_type", None)
    payload.setdefault("id", payload.get("run_id"))
    payload.setdefault("type", "partial_liquidation" if run_type == "withdrawal" else run_type)
    completed_at = payload.get("completed_at")
    payload.setdefault("created_at", payload.get("occurred_at", completed_at))
    payload.setdefault("updated_at", completed_at)
    executed: list[Any] = []
    failed: list[Any] = []
    for leg in payload.pop("orders", None) or ():
        if not isinstance(leg, dict):
            executed.append(leg)  # left for validation to refuse
            continue
        status = leg.get("status")
        order = {
            "leg": leg.get("leg"),
            "symbol": leg.get("symbol"),
            "side": leg.get("side"),
            "qty": leg.get("planned_qty"),
            "notional": leg.get("planned_notional"),
            "filled_qty": leg.get("filled_qty"),
            "filled_avg_price": leg.get("filled_avg_price"),
            "status": _V1_ORDER_STATUS.get(status, status) if isinstance(status, str) else status,
            "transaction_status": status,
            "reason": leg.get("reason", ""),
        }
        filled = leg.get("filled_qty")
        none_filled = isinstance(filled, str) and filled.strip("0.") == ""
        (failed if none_filled else executed).append(order)
    payload["orders"], payload["failed_orders"] = executed, failed
    return payload
