"""Which fills and closes a run accepts: the consumer's own checks (docs/design.md §4, "consumers still
check what they can"), whatever the broker's ACLs already let through.

A fact is accepted only for an order of the run's plan and only if
- provenance: on a PLATFORM run, when the deployment names a platform signer (the order-router),
  the fact carries that signer's verified signature. CLIENT runs' facts come from the client's
  middleware, which the broker's ACL admits; they are not signature-checked (the run's
  execution reports, run.execution, are the order-router's alone: `check_signed`, always);
- identity: it names the order's symbol and side;
- quantity: its cumulative quantity never exceeds the order's; for a notional order, the filled
  value never exceeds the notional by more than a tolerance (closes carry no price: their quantity
  is bounded with the lowest price of the band);
- price: a fill's average price lies within a band around the price the plan was made with, when
  the plan carries one.

Each check looks at one fact and the plan only, never at other facts: whether a fact is accepted
does not depend on what arrived before it, so merging the accepted facts stays order-independent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Final

from rebal_settlement_tracker.domain.errors import (
    DuplicateClose,
    DuplicateFill,
    FactRejected,
    RejectCode,
    UnknownLeg,
)
from rebal_settlement_tracker.domain.facts import merge_close, merge_fill
from rebal_settlement_tracker.domain.plan import PlannedOrder
from rebal_settlement_tracker.domain.transaction import ZERO, OrderClosed, OrderFilled, Side

PLATFORM: Final = "PLATFORM"  # broker_integration of runs whose orders the order-router sends
ONE: Final = Decimal(1)
#: Facts a run keeps before its plan. The order-router reports only after it read the plan, so
#: early facts are the few that a lagging consumer sees first; a flood is refused, not stored.
MAX_PENDING: Final = 100


class FactKind(StrEnum):
    FILL = "fill"
    CLOSE = "close"


Fact = OrderFilled | OrderClosed


@dataclass(frozen=True)
class FactSource:
    """What an event claims about its order, and who verifiably signed it."""

    event_id: str | None = None
    symbol: str | None = None  # None: the caller states no order identity to check
    side: Side | None = None
    signer: str | None = None  # the verified producer signature, None when unsigned
    signature: str = "no signature"  # why `signer` is None, for the rejection's reason

    def same_claims(self, other: FactSource | None) -> bool:
        """Equal but for the event id: a replay of the same report under a new id."""
        if other is None:
            return False
        return (self.symbol, self.side, self.signer) == (other.symbol, other.side, other.signer)


@dataclass(frozen=True)
class AcceptancePolicy:
    """What the deployment decides about accepting facts."""

    platform_signer: str | None = None  # None: the broker's ACLs alone vouch for PLATFORM facts
    notional_tolerance: Decimal = Decimal("0.02")
    price_band: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        if self.notional_tolerance < ZERO:
            raise ValueError("notional_tolerance must be >= 0")
        if not ZERO <= self.price_band < ONE:
            raise ValueError("price_band must be in [0, 1)")


@dataclass(frozen=True)
class PendingFact:
    """A fill or close received before the plan: kept, and judged when the plan arrives."""

    kind: FactKind
    leg: int
    fact: Fact
    source: FactSource | None = None

    def same_as(self, other: PendingFact) -> bool:
        if (self.kind, self.leg, self.fact) != (other.kind, other.leg, other.fact):
            return False
        return self.source == other.source or (
            self.source is not None and self.source.same_claims(other.source)
        )


@dataclass(frozen=True)
class Rejection:
    """A fact the run refused, kept so that it is counted and can be dead-lettered."""

    kind: FactKind
    leg: int
    code: RejectCode
    detail: str
    event_id: str | None = None


def accept(
    run_id: str,
    orders: Sequence[PlannedOrder],
    leg: int,
    fact: Fact,
    source: FactSource | None,
    broker_integration: str | None,
    policy: AcceptancePolicy,
) -> None:
    """Raise UnknownLeg or FactRejected unless `fact` may apply to leg `leg` of the plan."""
    order = next((order for order in orders if order.leg == leg), None)
    if order is None:
        raise UnknownLeg(f"run {run_id}: leg {leg} is not in the plan")
    try:
        check_fact(order, fact, source, broker_integration, policy)
    except FactRejected as rejected:
        raise FactRejected(rejected.code, f"run {run_id} {rejected.detail}") from None


def keep_pending(
    run_id: str, pending: tuple[PendingFact, ...], early: PendingFact
) -> tuple[PendingFact, ...]:
    """`pending` with `early` added; Duplicate* when it is a replay of one already kept."""
    if any(known.same_as(early) for known in pending):
        duplicate = DuplicateFill if early.kind is FactKind.FILL else DuplicateClose
        raise duplicate(f"run {run_id} leg {early.leg}: {early.kind} already kept")
    if len(pending) >= MAX_PENDING:
        raise FactRejected(
            RejectCode.TOO_MANY_EARLY,
            f"run {run_id}: {MAX_PENDING} facts already wait for the plan",
        )
    return (*pending, early)


def judge_pending(
    run_id: str,
    pending: Iterable[PendingFact],
    orders: Sequence[PlannedOrder],
    broker_integration: str | None,
    policy: AcceptancePolicy,
    known: tuple[Mapping[int, OrderFilled], Mapping[int, OrderClosed]] = ({}, {}),
) -> tuple[dict[int, OrderFilled], dict[int, OrderClosed], list[Rejection]]:
    """`known` fills and closes merged with the accepted early facts, and the refused ones."""
    fills, closes = dict(known[0]), dict(known[1])
    refused: list[Rejection] = []
    for early in pending:
        try:
            accept(run_id, orders, early.leg, early.fact, early.source, broker_integration, policy)
        except FactRejected as rejected:
            event_id = early.source.event_id if early.source else None
            refused.append(
                Rejection(early.kind, early.leg, rejected.code, rejected.detail, event_id)
            )
            continue
        if isinstance(early.fact, OrderFilled):
            fills[early.leg] = merge_fill(fills.get(early.leg), early.fact)
        else:
            closes[early.leg] = merge_close(closes.get(early.leg), early.fact)
    return fills, closes, refused


def check_fact(
    order: PlannedOrder,
    fact: Fact,
    source: FactSource | None,
    broker_integration: str | None,
    policy: AcceptancePolicy,
) -> None:
    """Raise FactRejected when `fact` may not be applied to `order`."""
    kind = FactKind.FILL if isinstance(fact, OrderFilled) else FactKind.CLOSE
    what = f"{kind} for leg {order.leg}"
    _check_provenance(f"{what} of a PLATFORM run", source, broker_integration, policy)
    if source is not None and source.symbol is not None:
        claimed = (source.symbol, source.side)
        if claimed != (order.symbol, order.side):
            raise FactRejected(
                RejectCode.WRONG_ORDER,
                f"{what}: event is for {source.side} {source.symbol} but the plan has "
                f"{order.side.value} {order.symbol}",
            )
    if order.qty is not None and fact.cum_qty > order.qty:
        raise FactRejected(
            RejectCode.ABOVE_QTY,
            f"{what}: cumulative quantity {fact.cum_qty} is above the order's {order.qty}",
        )
    if order.notional is not None:
        _check_notional(what, order, order.notional, fact, policy)
    if isinstance(fact, OrderFilled) and order.expected_price is not None:
        _check_price(what, order.expected_price, fact.avg_price, policy)


def _check_provenance(
    what: str, source: FactSource | None, broker_integration: str | None, policy: AcceptancePolicy
) -> None:
    if broker_integration == PLATFORM:
        check_signed(what, source, policy)


def check_signed(what: str, source: FactSource | None, policy: AcceptancePolicy) -> None:
    """Raise FactRejected (NOT_SIGNED) unless the deployment names no platform signer or
    `source` carries its verified signature: for a PLATFORM run's facts, and for everything on
    run.execution, which only the order-router writes."""
    required = policy.platform_signer
    if required is None:
        return
    signer = source.signer if source is not None else None
    if signer == required:
        return
    found = f"signed by {signer}" if signer else (source.signature if source else "no signature")
    raise FactRejected(RejectCode.NOT_SIGNED, f"{what} must be signed by {required}: {found}")


def _check_notional(
    what: str, order: PlannedOrder, notional: Decimal, fact: Fact, policy: AcceptancePolicy
) -> None:
    allowed = notional * (ONE + policy.notional_tolerance)
    if isinstance(fact, OrderFilled):
        value = fact.cum_qty * fact.avg_price
        if value > allowed:
            raise FactRejected(
                RejectCode.ABOVE_NOTIONAL,
                f"{what}: filled value {value} is above the notional {notional} "
                f"+{_percent(policy.notional_tolerance)}",
            )
        return
    if order.expected_price is None or fact.cum_qty == ZERO:
        return  # a close without a price can only be bounded by the plan's price
    lowest = order.expected_price * (ONE - policy.price_band)
    if fact.cum_qty * lowest > allowed:
        raise FactRejected(
            RejectCode.ABOVE_NOTIONAL,
            f"{what}: closed with {fact.cum_qty} filled, more than the notional {notional} buys "
            f"at {lowest}",
        )


def _check_price(what: str, expected: Decimal, price: Decimal, policy: AcceptancePolicy) -> None:
    if abs(price - expected) > expected * policy.price_band:
        raise FactRejected(
            RejectCode.PRICE_OUT_OF_BAND,
            f"{what}: average price {price} is more than {_percent(policy.price_band)} away from "
            f"the planned {expected}",
        )


def _percent(fraction: Decimal) -> str:
    return f"{fraction * 100:.2f}".rstrip("0").rstrip(".") + "%"
