"""How the simulator behaves: latency, fill mode, rejects and fault injection (pure values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class FillMode(StrEnum):
    IMMEDIATE = "immediate"  # fill everything at acceptance
    PARTIAL = "partial"  # fill partial_fill_ratio at acceptance, the rest expires at end of day
    DELAYED = "delayed"  # fill everything fill_delay_ms after acceptance
    HOLD = "hold"  # accept and never fill (cancel / end-of-day tests)


@dataclass(frozen=True, slots=True)
class BehaviourConfig:
    latency_ms: int = 0
    fill_mode: FillMode = FillMode.IMMEDIATE
    partial_fill_ratio: Decimal = Decimal("0.5")
    fill_delay_ms: int = 0
    reject_symbols: frozenset[str] = field(default_factory=frozenset)
    reject_unknown_symbols: bool = True
    # Counters: each refused / dropped request decrements them.
    fail_next_n_requests: int = 0
    drop_next_n_responses: int = 0
    # Sticky switch: every accepted order's response is dropped while it is on.
    drop_response_after_accept: bool = False
    # Trading requests a minute before 429 + Retry-After, like Alpaca's per-key limit (0: off).
    rate_limit_per_minute: int = 0

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.fill_delay_ms < 0:
            raise ValueError("latency_ms and fill_delay_ms must be >= 0")
        if not Decimal(0) < self.partial_fill_ratio < Decimal(1):
            raise ValueError("partial_fill_ratio must be between 0 and 1 (exclusive)")
        if self.fail_next_n_requests < 0 or self.drop_next_n_responses < 0:
            raise ValueError("fail_next_n_requests and drop_next_n_responses must be >= 0")
        if self.rate_limit_per_minute < 0:
            raise ValueError("rate_limit_per_minute must be >= 0 (0: no limit)")
