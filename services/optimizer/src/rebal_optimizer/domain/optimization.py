"""The optimization: one computed set of orders and its lifecycle (docs/design.md §3).

The lifecycle is a transition table; `apply()` is the only way to move it. InvestSuite owner
choices (ACCEPT|REJECT|REOPTIMIZE) map onto events of that table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum

from rebal_optimizer.domain.allocation import PRECISION, ZERO, floor_cents
from rebal_optimizer.domain.enums import (
    Initiator,
    Mandate,
    OwnerChoice,
    RunType,
    Side,
    TriggerReason,
)
from rebal_optimizer.domain.errors import IllegalTransition
from rebal_optimizer.domain.model_portfolio import Weight
from rebal_optimizer.domain.order_plan import WIRE_LIMIT, Order, SkippedOrder
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.reasons import (
    ASSET_NOT_TRADABLE,
    EXTERNAL_BUY_EXCEEDS_CASH,
    EXTERNAL_INVALID_QUANTITY,
    EXTERNAL_SELL_EXCEEDS_HOLDING,
    ORDER_OUT_OF_BOUNDS,
    PRICE_INVALID,
    PRICE_MISSING,
    Reason,
)
from rebal_optimizer.domain.triggers import ConditionEvaluation


class OptimizationStatus(StrEnum):
    CREATED = "CREATED"
    NOT_RECOMMENDED = "NOT_RECOMMENDED"
    AWAITING_OWNER = "AWAITING_OWNER"
    READY = "READY"
    REJECTED = "REJECTED"
    SUPERSEDED = "SUPERSEDED"
    EXPIRED = "EXPIRED"
    COMPLETED = "COMPLETED"


class OptimizationEvent(StrEnum):
    FOUND_NOT_RECOMMENDED = "found_not_recommended"
    RELEASED = "released"  # discretionary and recommended: ready to execute at once
    PROPOSED = "proposed"  # advisory and recommended: the owner decides
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REOPTIMIZED = "reoptimized"  # the owner asked for a new one
    REPLACED = "replaced"  # a newer optimization took its place while it waited
    EXPIRED = "expired"
    RUN_COMPLETED = "run_completed"


_S, _E = OptimizationStatus, OptimizationEvent
TRANSITIONS: Mapping[tuple[OptimizationStatus, OptimizationEvent], OptimizationStatus] = {
    (_S.CREATED, _E.FOUND_NOT_RECOMMENDED): _S.NOT_RECOMMENDED,
    (_S.CREATED, _E.RELEASED): _S.READY,
    (_S.CREATED, _E.PROPOSED): _S.AWAITING_OWNER,
    (_S.AWAITING_OWNER, _E.ACCEPTED): _S.READY,
    (_S.AWAITING_OWNER, _E.REJECTED): _S.REJECTED,
    (_S.AWAITING_OWNER, _E.REOPTIMIZED): _S.SUPERSEDED,
    (_S.AWAITING_OWNER, _E.REPLACED): _S.SUPERSEDED,
    (_S.AWAITING_OWNER, _E.EXPIRED): _S.EXPIRED,
    (_S.READY, _E.RUN_COMPLETED): _S.COMPLETED,
}
TERMINAL_STATUSES = frozenset(
    {_S.NOT_RECOMMENDED, _S.REJECTED, _S.SUPERSEDED, _S.EXPIRED, _S.COMPLETED}
)
OWNER_CHOICE_EVENTS: Mapping[OwnerChoice, OptimizationEvent] = {
    OwnerChoice.ACCEPT: _E.ACCEPTED,
    OwnerChoice.REJECT: _E.REJECTED,
    OwnerChoice.REOPTIMIZE: _E.REOPTIMIZED,
}


@dataclass(frozen=True, slots=True)
class Optimization:
    optimization_id: str
    portfolio_id: str
    run_type: RunType
    trigger: TriggerReason
    initiated_from: Initiator
    mandate: Mandate
    is_recommended: bool
    orders: tuple[Order, ...]
    skipped_orders: tuple[SkippedOrder, ...]
    reasons: tuple[Reason, ...]
    decision: tuple[ConditionEvaluation, ...]  # the decision record: every check and its value
    weights: tuple[Weight, ...]  # the weights this optimization steered toward
    created_at: datetime
    status: OptimizationStatus = OptimizationStatus.CREATED
    status_changed_at: datetime | None = None
    model_id: str | None = None
    amount: Decimal | None = None
    shortfall: Decimal = ZERO
    retry_of: str | None = None  # the original run whose failed orders this one retries

    def apply(self, event: OptimizationEvent, at: datetime) -> Optimization:
        target = TRANSITIONS.get((self.status, OptimizationEvent(event)))
        if target is None:
            raise IllegalTransition(f"{event} is not allowed in status {self.status}")
        return replace(self, status=target, status_changed_at=at)

    def decide(self, choice: OwnerChoice, at: datetime) -> Optimization:
        return self.apply(OWNER_CHOICE_EVENTS[OwnerChoice(choice)], at)

    def is_expired(self, now: datetime, max_wait: timedelta) -> bool:
        return self.status is _S.AWAITING_OWNER and now >= self.created_at + max_wait

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def first_move(self, at: datetime) -> Optimization:
        """CREATED → NOT_RECOMMENDED | READY (discretionary) | AWAITING_OWNER (advisory)."""
        if not self.is_recommended:
            return self.apply(_E.FOUND_NOT_RECOMMENDED, at)
        if self.mandate is Mandate.ADVISORY:
            return self.apply(_E.PROPOSED, at)
        return self.apply(_E.RELEASED, at)


@dataclass(frozen=True, slots=True)
class AwaitingOwner:
    """The portfolio's pointer to its advisory optimization waiting for ACCEPT/REJECT/REOPTIMIZE."""

    optimization_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ExternalOrder:
    """An order computed by an external optimizer (InvestSuite "client optimizer")."""

    symbol: str
    side: Side
    qty: Decimal


def validate_external(
    orders: Sequence[ExternalOrder],
    holdings: Mapping[str, Decimal],
    cash: Decimal,
    prices: Prices,
) -> tuple[Reason, ...]:
    """Reasons to refuse an external optimization: no usable price, a non-tradable asset,
    selling more than held, or buying for more than cash plus sell proceeds."""
    with localcontext(prec=PRECISION):
        return _external_reasons(orders, holdings, cash, prices)


def _external_reasons(
    orders: Sequence[ExternalOrder],
    holdings: Mapping[str, Decimal],
    cash: Decimal,
    prices: Prices,
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    sold: dict[str, Decimal] = {}
    proceeds = cost = ZERO
    for order in orders:
        quote = prices.get(order.symbol)
        if not (order.qty.is_finite() and order.qty > 0):
            reasons.append(Reason(EXTERNAL_INVALID_QUANTITY, order.symbol, f"qty {order.qty}"))
            continue
        if quote is None or not (quote.price.is_finite() and quote.price > 0):
            code = PRICE_MISSING if quote is None else PRICE_INVALID
            reasons.append(Reason(code, order.symbol, "cannot value the order"))
            continue
        if not quote.tradable:
            reasons.append(Reason(ASSET_NOT_TRADABLE, order.symbol, "asset is not tradable"))
        if order.qty * quote.price >= WIRE_LIMIT:
            reasons.append(
                Reason(
                    ORDER_OUT_OF_BOUNDS,
                    order.symbol,
                    "the order's amount has more than 15 integer digits",
                )
            )
            continue
        if Side(order.side) is Side.SELL:
            sold[order.symbol] = sold.get(order.symbol, ZERO) + order.qty
            proceeds += floor_cents(order.qty * quote.price)
        else:
            cost += order.qty * quote.price
    for symbol in sorted(sold):
        held = holdings.get(symbol, ZERO)
        if sold[symbol] > held:
            detail = f"sells {sold[symbol]}, holds {held}"
            reasons.append(Reason(EXTERNAL_SELL_EXCEEDS_HOLDING, symbol, detail))
    if cost > cash + proceeds:
        detail = f"buys cost {cost}, cash after sells is {cash + proceeds}"
        reasons.append(Reason(EXTERNAL_BUY_EXCEEDS_CASH, None, detail))
    return tuple(reasons)


def external_orders(orders: Sequence[ExternalOrder], prices: Prices) -> tuple[Order, ...]:
    """Number validated external orders the same way as our own: sells first, by symbol."""
    ranked = sorted(orders, key=lambda o: (Side(o.side) is not Side.SELL, o.symbol))
    return tuple(
        Order(
            leg,
            o.symbol,
            Side(o.side),
            o.qty,
            floor_cents(o.qty * prices[o.symbol].price),
            prices[o.symbol].price,
        )
        for leg, o in enumerate(ranked, start=1)
    )
