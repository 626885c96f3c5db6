"""`RunExecution`: the orders of one ready optimization (PLATFORM broker integration only).

Sequencing: ALL sells first; buys become sendable only once every sell is terminal, because a
buy is funded by the sells' proceeds. Buys keep their PLANNED sizes: the optimizer already sized
them to the cash available after the planned sells, and re-sizing here would make the order
router a second optimizer. If a sell fell short, the broker's buying-power check rejects what
cannot be paid for (order.closed, reason rejected), the run ends COMPLETED_ADJUSTED, and the next
evaluation corrects the remaining drift.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from decimal import Decimal

from rebal_order_router.domain.client_order_id import client_order_id, is_valid_leg
from rebal_order_router.domain.events import OrderEvent, OrderEventKind
from rebal_order_router.domain.facts import OrderFact
from rebal_order_router.domain.order import ApplyOutcome, Order
from rebal_order_router.domain.start import ExecutionStart
from rebal_order_router.domain.values import NEW_YORK, OrderSide, OrderStatus, require_aware

RUN_CANCELED = "run canceled"
"""The reason of the order.closed of a leg a run cancel kept from ever being sent."""

WINDOW_CLOSED = "execution window closed"
"""The reason of the order.closed (expired) of a leg the execution window closed on before it
was sent (`OrderEventKind.WINDOW_CLOSED`)."""


class UnknownOrder(KeyError):
    """A report names a client_order_id that is not part of this run."""


@dataclass(frozen=True)
class OrderIntent:
    """One planned order: exactly one of `qty` (shares) or `notional` (cash amount), positive."""

    leg: str
    symbol: str
    side: OrderSide
    qty: Decimal | None = None
    notional: Decimal | None = None
    expected_price: Decimal | None = None

    def __post_init__(self) -> None:
        if not is_valid_leg(self.leg):
            raise ValueError(f"invalid leg {self.leg!r}")
        if not self.symbol:
            raise ValueError("symbol must not be empty")
        if (self.qty is None) == (self.notional is None):
            raise ValueError(f"leg {self.leg}: give exactly one of qty or notional")
        size = self.qty if self.qty is not None else self.notional
        if size is None or not size > 0:
            raise ValueError(f"leg {self.leg}: size must be > 0, got {size}")


@dataclass(frozen=True)
class RunUpdate:
    """Result of applying something to a run: the new run, the outcome, facts to publish."""

    run: RunExecution
    outcome: ApplyOutcome
    facts: tuple[OrderFact, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class BrokerCancel:
    client_order_id: str
    broker_order_id: str


@dataclass(frozen=True)
class RunCancellation:
    """What canceling a run asks of the service layer.

    - `broker_cancels`: open orders to cancel at the broker (their CANCELED comes back as reports).
    - `to_look_up`: intents that may have been sent; look each up by client_order_id: if the
      broker has it, apply what it reports and cancel the run again (it then appears in
      `broker_cancels`); if not, apply an ABANDONED event (-> NOT_EXECUTED).
    - `facts`: closes decided right away (buys that were never sendable were never sent).
    """

    run: RunExecution
    broker_cancels: tuple[BrokerCancel, ...]
    to_look_up: tuple[str, ...]
    facts: tuple[OrderFact, ...]


def _sequence_key(order: Order) -> tuple[int, str, str]:
    return (0 if order.side is OrderSide.SELL else 1, order.symbol, order.leg)


@dataclass(frozen=True)
class RunExecution:
    run_id: str
    portfolio_id: str
    account_id: str
    orders: tuple[Order, ...]  # sells first, then buys; each by symbol
    canceled_at: datetime | None = None
    cancel_reason: str = ""
    start: ExecutionStart = field(default_factory=ExecutionStart)

    @classmethod
    def plan(
        cls, run_id: str, portfolio_id: str, account_id: str, intents: Iterable[OrderIntent]
    ) -> RunExecution:
        orders = [
            Order(
                run_id=run_id,
                leg=intent.leg,
                client_order_id=client_order_id(run_id, intent.leg),
                symbol=intent.symbol,
                side=intent.side,
                qty=intent.qty,
                notional=intent.notional,
                expected_price=intent.expected_price,
            )
            for intent in intents
        ]
        legs = [order.leg for order in orders]
        if len(set(legs)) != len(legs):
            raise ValueError(f"run {run_id}: legs must be unique, got {sorted(legs)}")
        return cls(run_id, portfolio_id, account_id, tuple(sorted(orders, key=_sequence_key)))

    @property
    def sells(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.SELL)

    @property
    def buys(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.side is OrderSide.BUY)

    @property
    def is_canceled(self) -> bool:
        return self.canceled_at is not None

    @property
    def sells_done(self) -> bool:
        return all(o.status.is_terminal for o in self.sells)

    @property
    def is_complete(self) -> bool:
        """Every order is final, or the run stopped before any left: nothing more will be sent
        or reported."""
        return self.start.stopped_before_start or all(o.status.is_terminal for o in self.orders)

    def with_start(self, start: ExecutionStart) -> RunExecution:
        return replace(self, start=start)

    def find(self, client_order_id: str) -> Order | None:
        return next((o for o in self.orders if o.client_order_id == client_order_id), None)

    def order(self, client_order_id: str) -> Order:
        found = self.find(client_order_id)
        if found is None:
            raise UnknownOrder(client_order_id)
        return found

    def sendable(self) -> tuple[Order, ...]:
        """Intents that may be submitted now (resubmitting one is safe: the id is deterministic).
        Nothing while the run waits for the window or after it stopped."""
        if self.is_canceled or self.start.waiting or self.start.stop is not None:
            return ()
        if not self.sells_done:
            return tuple(o for o in self.sells if o.status is OrderStatus.PENDING_SUBMIT)
        return tuple(o for o in self.buys if o.status is OrderStatus.PENDING_SUBMIT)

    def apply(
        self, client_order_id: str, event: OrderEvent, market_tz: tzinfo = NEW_YORK
    ) -> RunUpdate:
        # after the run's cancel, a cancel the report brings is the run's (order.closed says so)
        order = self.order(client_order_id)
        transition = order.apply(event, market_tz, run_canceled=self.is_canceled)
        if not transition.applied:
            return RunUpdate(self, transition.outcome, (), transition.note)
        return RunUpdate(self._with(transition.order), transition.outcome, transition.facts)

    def cancel(
        self, at: datetime, reason: str = RUN_CANCELED, market_tz: tzinfo = NEW_YORK
    ) -> RunCancellation:
        """Cancel the run; idempotent (a repeat returns what is still open, keeps the first time).

        A complete run has nothing left to cancel and is returned unchanged. Legs never sent
        close with the reason `RUN_CANCELED`; `reason` (the request's) stays on the run.
        """
        require_aware(at, "cancel time")
        if self.is_complete:
            return RunCancellation(self, (), (), ())
        run = self if self.is_canceled else replace(self, canceled_at=at, cancel_reason=reason)
        # Buys are only ever sent after every sell is final; if that never happened, unsent
        # buys provably never reached the broker and close right away without a lookup.
        buys_never_sendable = not self.sells_done
        facts: list[OrderFact] = []
        for order in run.buys:
            if buys_never_sendable and order.status is OrderStatus.PENDING_SUBMIT:
                abandoned = OrderEvent(OrderEventKind.ABANDONED, at, reason=RUN_CANCELED)
                update = run.apply(order.client_order_id, abandoned, market_tz)
                run = update.run
                facts.extend(update.facts)
        broker_cancels = tuple(
            BrokerCancel(o.client_order_id, o.broker_order_id)
            for o in run.orders
            # open orders always know their broker id: every report that opens one carries it
            if o.status.is_open_at_broker and o.broker_order_id is not None
        )
        to_look_up = tuple(
            o.client_order_id for o in run.orders if o.status is OrderStatus.PENDING_SUBMIT
        )
        return RunCancellation(run, broker_cancels, to_look_up, tuple(facts))

    def current_facts(self, market_tz: tzinfo = NEW_YORK) -> tuple[OrderFact, ...]:
        """Every fact the run's orders published so far, derived again from their state."""
        return tuple(f for order in self.orders for f in order.current_facts(market_tz))

    def _with(self, changed: Order) -> RunExecution:
        orders = tuple(
            changed if o.client_order_id == changed.client_order_id else o for o in self.orders
        )
        return replace(self, orders=orders)
