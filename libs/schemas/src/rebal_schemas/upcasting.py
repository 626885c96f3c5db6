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
