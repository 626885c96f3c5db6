"""What a portfolio remembers of self-healing runs (retries.py decides with it)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.enums import RunType, Side


@dataclass(frozen=True, slots=True)
class RetryLeg:
    """What one order of a run left undone: a quantity, or (an order by notional) an amount."""

    symbol: str
    side: Side
    qty: Decimal | None = None
    notional: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PendingRetry:
    retry_of: str  # the original run
    failed_run: str  # the run whose legs are retried (the original, or a retry of it)
    attempt: int  # 1 = the first retry
    run_type: RunType
    legs: tuple[RetryLeg, ...]


@dataclass(frozen=True, slots=True)
class RetryLink:
    """The retry run in flight, so its own outcome counts against the same limit."""

    optimization_id: str
    retry_of: str
    attempt: int
