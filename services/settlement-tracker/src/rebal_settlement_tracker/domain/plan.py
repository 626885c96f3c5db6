"""The plan of a run, as optimization.ready carries it: order legs, skipped orders, and the terms
every run event reports (Alpaca's run fields)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from rebal_settlement_tracker.domain.errors import InvalidEvent
from rebal_settlement_tracker.domain.gains import Gains
from rebal_settlement_tracker.domain.transaction import (
    ZERO,
    OrderClosed,
    OrderFilled,
    Side,
    Transaction,
    TransactionSettled,
)


@dataclass(frozen=True)
class PlannedOrder:
    """One order leg: a quantity (whole or fractional shares) or a notional amount, not both."""

    leg: int
    symbol: str
    side: Side
    qty: Decimal | None = None
    notional: Decimal | None = None
    asset_class: str = "us_equity"
    # The price the optimizer planned with (its last price): the reference of the fill price band.
    expected_price: Decimal | None = None
    # A sale's estimated realized gain for its planned quantity (the optimizer's, gains.py).
    estimated_gain: Gains | None = None

    def __post_init__(self) -> None:
        if self.leg < 0:
            raise InvalidEvent(f"leg must be >= 0, got {self.leg}")
        if (self.qty is None) == (self.notional is None):
            raise InvalidEvent(f"leg {self.leg}: exactly one of qty and notional is required")
        amount = self.qty if self.qty is not None else self.notional
        if amount is not None and amount <= ZERO:
            raise InvalidEvent(f"leg {self.leg}: qty/notional must be > 0, got {amount}")
        if self.expected_price is not None and self.expected_price <= ZERO:
            raise InvalidEvent(f"leg {self.leg}: expected_price must be > 0")

    def transaction(
        self, fill: OrderFilled | None, close: OrderClosed | None, settled_on: date | None
    ) -> Transaction:
        """This order's transaction, replaying its facts in a fixed order: fill, close, settle."""
        tx = Transaction.planned(
            self.leg,
            self.symbol,
            self.side,
            qty=self.qty,
            notional=self.notional,
            asset_class=self.asset_class,
        )
        if fill is not None:
            tx = tx.apply(fill)
        if close is not None and not tx.is_fully_executed:
            tx = tx.apply(close)
        if settled_on is not None:
            tx = tx.apply(TransactionSettled(settled_on))
        return tx


@dataclass(frozen=True)
class SkippedOrder:
    """An order the optimizer did not send (Alpaca ``skipped_orders[]`` item)."""

    symbol: str
    side: Side
    notional: Decimal
    reason: str = "ORDER_LESS_THAN_MIN_NOTIONAL"
    reason_details: str | None = None


SYSTEM: Final = "system"  # Alpaca `initiated_from` of a run the platform started


@dataclass(frozen=True)
class TargetWeight:
    """One weight the run rebalanced to (Alpaca `PortfolioWeight`): `asset` with a symbol, or
    `cash`."""

    kind: str
    symbol: str | None
    percent: Decimal


@dataclass(frozen=True)
class RunTerms:
    """What optimization.ready says about the run besides its orders; reported, never reasoned on
    (but `broker_integration`, which decides who may vouch for its fills)."""

    run_type: str | None = None  # full_rebalance, invest_cash, withdrawal
    broker_integration: str | None = None  # PLATFORM or CLIENT
    account_id: str | None = None
    initiated_from: str = SYSTEM
    weights: tuple[TargetWeight, ...] = ()
    amount: Decimal | None = None  # of an invest_cash or withdrawal run
    retry_of: str | None = None  # the original run whose failed orders this run retries
