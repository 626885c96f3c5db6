"""How a run's execution starts and stops (docs/design.md §3 "Execution window", "Runs").

A run ready inside the execution window starts at once. One ready outside it WAITS (Alpaca's
QUEUED) for `starts_at`, the next opening, and is then released, oldest first, after its prices
are checked again: if the last price of any planned symbol moved from the price the plan
expected by more than the tolerance, nothing is sent and the run stops for a re-plan. A run
has *started* once its first order leaves for the broker. A run the window closed on before its
first order left (ready or released just before the close, a router down until after it)
waits again, for the next opening; `starts_at` is None when the calendar cannot say when that is.

A run stops at most once: `canceled` before any order left (a queued run, or one whose first
order was not sent yet), `canceled_mid_run` after, `replan` at its start. Each of these
moments is published once (`run.execution_queued`, `_started`, `_stopped`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from rebal_order_router.domain.values import require_aware

DEFAULT_PRICE_TOLERANCE = Decimal("0.02")  # 2 %: a fraction of the expected price


class StopOutcome(StrEnum):
    """The `outcome` of run.execution_stopped."""

    CANCELED = "canceled"  # before any order left
    CANCELED_MID_RUN = "canceled_mid_run"  # open orders cancelled, unsent legs closed
    REPLAN = "replan"  # at its start the prices had moved: no order left

    @property
    def before_start(self) -> bool:
        return self is not StopOutcome.CANCELED_MID_RUN


class StartError(ValueError):
    """A start transition that does not apply to the run's state (a caller's bug)."""


@dataclass(frozen=True)
class ExecutionStart:
    """Where a run's execution is: queued, released, started, stopped (each once)."""

    queued_at: datetime | None = None  # stored outside the window (the last time it queued)
    starts_at: datetime | None = None  # the opening it waits for (None: the calendar can't say)
    released_at: datetime | None = None  # a queued run let go at its start
    started_at: datetime | None = None  # its first order left
    stop: StopOutcome | None = None
    stop_reason: str = ""
    stopped_at: datetime | None = None
    stop_cause: str = ""  # event id of what stopped it (the cancel request, a model change)
    requeued: int = 0  # times it queued again after a first queuing (each one is published)

    @property
    def waiting(self) -> bool:
        """QUEUED: outside the window, not released, not stopped."""
        return self.queued_at is not None and self.released_at is None and self.stop is None

    @property
    def stopped_before_start(self) -> bool:
        """Stopped before any order left: nothing will ever be sent or reported."""
        return self.stop is not None and self.stop.before_start

    def queue(self, at: datetime, starts_at: datetime | None) -> ExecutionStart:
        """Wait for `starts_at`: a new run, or one that sent nothing yet (never queued, or
        released) when the window closed on it. The caller knows whether an order may have
        left (`stored_run.has_started`): such a run keeps its place instead."""
        require_aware(at, "queue time")
        if starts_at is not None:
            require_aware(starts_at, "start time")
        if self.waiting or self.started_at is not None or self.stop is not None:
            raise StartError("only a run that sent nothing and is not waiting can be queued")
        again = self.requeued + (1 if self.queued_at is not None else 0)
        return replace(self, queued_at=at, starts_at=starts_at, released_at=None, requeued=again)

    def release(self, at: datetime) -> ExecutionStart:
        if not self.waiting:
            raise StartError("only a waiting run can be released")
        return replace(self, released_at=require_aware(at, "release time"))

    def mark_started(self, at: datetime) -> ExecutionStart:
        """The first order leaves; a later call keeps the first time."""
        if self.started_at is not None:
            return self
        if self.waiting or self.stopped_before_start:
            raise StartError("a waiting or stopped run sends nothing")
        return replace(self, started_at=require_aware(at, "start time"))

    def stopped(
        self, outcome: StopOutcome, at: datetime, reason: str, cause: str = ""
    ) -> ExecutionStart:
        if self.stop is not None:
            raise StartError(f"the run already stopped ({self.stop})")
        if outcome.before_start and self.started_at is not None:
            raise StartError(f"a started run cannot stop as {outcome}")
        require_aware(at, "stop time")
        return replace(self, stop=outcome, stop_reason=reason, stopped_at=at, stop_cause=cause)


@dataclass(frozen=True)
class PriceMove:
    """A planned symbol whose last price is beyond the tolerance from the expected one."""

    symbol: str
    expected: Decimal
    last: Decimal

    @property
    def move(self) -> Decimal:
        """Signed, as a fraction of the expected price."""
        return (self.last - self.expected) / self.expected

    def describe(self) -> str:
        percent = (self.move * 100).quantize(Decimal("0.01"))
        sign = "+" if percent > 0 else ""
        return f"{self.symbol} moved {sign}{percent}% ({self.expected} -> {self.last})"


def price_moves(
    expected: Iterable[tuple[str, Decimal | None]],
    last_prices: Mapping[str, Decimal],
    tolerance: Decimal = DEFAULT_PRICE_TOLERANCE,
) -> tuple[PriceMove, ...]:
    """The (symbol, expected price) pairs whose last price moved by more than `tolerance`.

    A leg without an expected price, or a symbol without a last price, cannot be checked and is
    not counted as moved (the broker fills at the market either way)."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    moves: dict[str, PriceMove] = {}
    for symbol, price in expected:
        last = last_prices.get(symbol)
        if price is None or price <= 0 or last is None or symbol in moves:
            continue
        move = PriceMove(symbol, price, last)
        if abs(move.move) > tolerance:
            moves[symbol] = move
    return tuple(moves[symbol] for symbol in sorted(moves))


def replan_reason(moves: Iterable[PriceMove], tolerance: Decimal) -> str:
    percent = (tolerance * 100).normalize()
    return f"prices moved beyond {percent}% since the plan: " + "; ".join(
        m.describe() for m in moves
    )
