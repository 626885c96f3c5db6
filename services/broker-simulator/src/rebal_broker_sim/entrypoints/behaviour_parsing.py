"""Read behaviour changes from JSON (POST /admin/config) and render the behaviour back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rebal_broker_sim.domain.behaviour import BehaviourConfig, FillMode
from rebal_broker_sim.domain.decimals import DecimalFieldError, format_decimal, parse_decimal
from rebal_broker_sim.service_layer.errors import UnprocessableRequest

_INT_FIELDS = (
    "latency_ms",
    "fill_delay_ms",
    "fail_next_n_requests",
    "drop_next_n_responses",
    "rate_limit_per_minute",
)
_BOOL_FIELDS = ("reject_unknown_symbols", "drop_response_after_accept")
KNOWN_FIELDS = frozenset(
    {*_INT_FIELDS, *_BOOL_FIELDS, "fill_mode", "partial_fill_ratio", "reject_symbols", "cash"}
)


def behaviour_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The BehaviourConfig fields to replace; 'cash' is state, handled by the caller."""
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise UnprocessableRequest(f"unknown config fields: {', '.join(unknown)}")
    changes: dict[str, Any] = {}
    for name in _INT_FIELDS:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UnprocessableRequest(f"{name} must be a non-negative integer")
            changes[name] = value
    for name in _BOOL_FIELDS:
        if name in body:
            if not isinstance(body[name], bool):
                raise UnprocessableRequest(f"{name} must be true or false")
            changes[name] = body[name]
    if "fill_mode" in body:
        try:
            changes["fill_mode"] = FillMode(body["fill_mode"])
        except ValueError as exc:
            modes = ", ".join(mode.value for mode in FillMode)
            raise UnprocessableRequest(f"fill_mode must be one of {modes}") from exc
    if "partial_fill_ratio" in body:
        ratio = decimal_field(body["partial_fill_ratio"], "partial_fill_ratio")
        changes["partial_fill_ratio"] = ratio
    if "reject_symbols" in body:
        symbols = body["reject_symbols"]
        if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
            raise UnprocessableRequest("reject_symbols must be a list of symbols")
        changes["reject_symbols"] = frozenset(symbols)
    return changes


def cash_changes(body: dict[str, Any]) -> dict[str, Decimal | None]:
    raw = body.get("cash", {})
    if not isinstance(raw, dict):
        raise UnprocessableRequest("cash must map account_id to a decimal string or null")
    return {
        str(account): None if amount is None else decimal_field(amount, f"cash.{account}")
        for account, amount in raw.items()
    }


def decimal_field(value: object, name: str) -> Decimal:
    try:
        return parse_decimal(value, name)
    except DecimalFieldError as exc:
        raise UnprocessableRequest(str(exc)) from exc


def behaviour_view(config: BehaviourConfig, cash: dict[str, Decimal]) -> dict[str, Any]:
    return {
        "latency_ms": config.latency_ms,
        "fill_mode": config.fill_mode.value,
        "partial_fill_ratio": format_decimal(config.partial_fill_ratio),
        "fill_delay_ms": config.fill_delay_ms,
        "reject_symbols": sorted(config.reject_symbols),
        "reject_unknown_symbols": config.reject_unknown_symbols,
        "fail_next_n_requests": config.fail_next_n_requests,
        "drop_next_n_responses": config.drop_next_n_responses,
        "drop_response_after_accept": config.drop_response_after_accept,
        "rate_limit_per_minute": config.rate_limit_per_minute,
        "cash": {account: format_decimal(amount) for account, amount in sorted(cash.items())},
    }
