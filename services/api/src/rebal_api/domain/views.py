"""The read model: what the api knows of rebal, shaped for Alpaca's Rebalancing API (pure).

One document per aggregate, each found by its rebal id (the Kafka key of its events):

- `ModelView` (Alpaca "portfolio"): a rebal model, by `model_id`;
- `AccountView` (Alpaca account + subscription): a rebal portfolio, by `portfolio_id`;
- `RunView` (Alpaca run): a rebal run, by its run id (= the optimization id);
- `RunRequest`: a run the api was asked for (`POST /runs`) that rebal has not created yet, by
  its Alpaca id (the request's ULID as a UUID); once rebal's run exists it carries that id too.

`stream` holds the rebalancer-stream entries a change made, until the repository's flush has
written them to the stream collection (then the next change starts with none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

FINAL_STATUSES = frozenset(
    {"CANCELED", "CANCELED_MID_RUN", "ERROR", "TIMEOUT", "COMPLETED_ADJUSTED", "COMPLETED_SUCCESS"}
)
"""Alpaca's final run statuses (QUEUED and IN_PROGRESS are not)."""


@dataclass(frozen=True)
class WeightView:
    type: str
    symbol: str | None
    percent: Decimal


@dataclass(frozen=True)
class ConditionView:
    type: str
    sub_type: str
    percent: Decimal | None = None
    day: str | None = None


@dataclass(frozen=True)
class StreamEntry:
    """One event of `GET /v2/events/rebalancer`: `id` is a ULID, `data` its JSON body."""

    id: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ModelView:
    model_id: str
    uuid: str
    name: str
    description: str
    status: str
    cooldown_days: int
    weights: tuple[WeightView, ...]
    conditions: tuple[ConditionView, ...]
    created_at: datetime
    updated_at: datetime
    last_event_id: str | None = None
    previous_status: str | None = None
    """The status before `last_event_id` changed it (restored if that change is refused)."""
    stream: tuple[StreamEntry, ...] = ()
    ineligible: tuple[str, ...] = ()
    """The symbols that made it `needs_adjustment` (model.status_changed's `symbols`)."""


@dataclass(frozen=True)
class Subscription:
    uuid: str
    model_id: str
    created_at: datetime
    updated_at: datetime
    request_id: str
    """The event that made it (a refusal naming it in `causation_id` removes it)."""


@dataclass(frozen=True)
class AccountView:
    portfolio_id: str
    account_id: str | None
    account_uuid: str | None
    subscription: Subscription | None
    own_weights: bool
    created_at: datetime
    updated_at: datetime
    last_rebalanced_at: datetime | None = None


@dataclass(frozen=True)
class OrderView:
    """One order of a run: Alpaca's order fields the run object shows, plus rebal's leg and
    InvestSuite transaction status."""

    leg: int
    symbol: str
    side: str
    status: str
    filled_qty: Decimal
    broker_id: str | None = None
    client_order_id: str | None = None
    notional: Decimal | None = None
    qty: Decimal | None = None
    filled_avg_price: Decimal | None = None
    filled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    failed_at: datetime | None = None
    updated_at: datetime | None = None
    transaction_status: str = "PLANNED"


@dataclass(frozen=True)
class PlannedView:
    """One leg the optimizer planned (optimization.created / .ready): by `qty` or `notional`."""

    leg: int
    symbol: str
    side: str
    qty: Decimal | None = None
    notional: Decimal | None = None
    expected_price: Decimal | None = None


@dataclass(frozen=True)
class LegView:
    """Where a leg's transaction is, as transaction.settled and run.settled say (they may
    arrive before run.completed gives the orders)."""

    leg: int
    status: str
    trade_date: date | None = None
    settlement_date: date | None = None
    settled_at: datetime | None = None


@dataclass(frozen=True)
class SkippedView:
    symbol: str
    side: str
    notional: Decimal
    currency: str
    reason: str
    reason_details: str


@dataclass(frozen=True)
class RunView:
    run_id: str
    uuid: str | None
    """None while rebal's events have not said which request made an `api` run; a run without
    its id or its `type` (seen first on an event that does not carry it) is not shown."""
    portfolio_id: str
    account_id: str
    model_id: str | None
    type: str
    initiated_from: str
    status: str
    created_at: datetime
    updated_at: datetime
    amount: Decimal | None = None
    reason: str | None = None
    weights: tuple[WeightView, ...] = ()
    orders: tuple[OrderView, ...] = ()
    failed_orders: tuple[OrderView, ...] = ()
    skipped_orders: tuple[SkippedView, ...] = ()
    completed_at: datetime | None = None
    canceled_at: datetime | None = None
    settled_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    planned: tuple[PlannedView, ...] = ()
    legs: tuple[LegView, ...] = ()
    stream: tuple[StreamEntry, ...] = ()
    reported: bool = False
    """run.completed has been read: the orders are the run's final report."""

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def leg(self, leg: int) -> LegView | None:
        return next((state for state in self.legs if state.leg == leg), None)

    def transaction_status(self, order: OrderView) -> str:
        """The leg's settlement news first, else what run.completed said."""
        state = self.leg(order.leg)
        return state.status if state is not None else order.transaction_status

    @property
    def shown(self) -> bool:
        return self.uuid is not None and bool(self.type)


@dataclass(frozen=True)
class RunRequest:
    """`POST /runs` accepted, before rebal's run exists (QUEUED), or refused later (ERROR,
    CANCELED, TIMEOUT with the reason); `run_id` once rebal's run carries this id."""

    uuid: str
    request_id: str
    portfolio_id: str
    account_id: str
    model_id: str | None
    type: str
    status: str
    created_at: datetime
    updated_at: datetime
    amount: Decimal | None = None
    weights: tuple[WeightView, ...] = ()
    reason: str | None = None
    optimization_id: str | None = None
    run_id: str | None = None
    completed_at: datetime | None = None
    stream: tuple[StreamEntry, ...] = ()
    initiated_from: str = "api"
    """`api` (`POST /runs`) or `dashboard` (the api's `/ui`)."""

    @property
    def is_open(self) -> bool:
        return self.run_id is None and self.status not in FINAL_STATUSES


@dataclass(frozen=True)
class RequestRecord:
    """An answered write: what a repeated `Idempotency-Key` gets back."""

    fingerprint: str
    status: int
    body: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)
