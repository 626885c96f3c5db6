"""One store document per portfolio (collection `portfolios`): the domain `PortfolioAccount` (the
Portfolio, the optimization waiting for its owner, idempotency keys) plus the decision records
waiting to be copied to the append-only history. One document, so every step is one atomic write.
This module only maps: the rules live in the domain, the steps in the service layer.

While a READY optimization blocks the portfolio, the document also keeps the optimization.ready
event exactly as it was published (`ready_event`, its encoded JSON): the event's times cannot be
derived again, and after the broker lost records the same event must be published again
(`service_layer/redelivery.py`). Documents written before it was kept load with None."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from rebal_optimizer.adapters.domain_json import (
    dec,
    iso,
    optimization_json,
    optimization_of,
    settings_json,
    settings_of,
    to_date,
    to_datetime,
    trigger_json,
    trigger_of,
    waiting_json,
    waiting_of,
)
from rebal_optimizer.adapters.lots_json import lots_json, lots_of
from rebal_optimizer.adapters.retry_json import (
    pending_retry_json,
    pending_retry_of,
    retry_link_json,
    retry_link_of,
)
from rebal_optimizer.domain import (
    AwaitingOwner,
    Deferred,
    Optimization,
    Origin,
    PendingSubscription,
    Portfolio,
    PortfolioAccount,
    RunType,
    TriggerReason,
)
from rebal_optimizer.service_layer.ports import StoredPortfolio
from rebal_runtime.store import DocumentStore

Json = dict[str, Any]
PORTFOLIOS = "portfolios"
MODEL_INDEX = "model_id"
EXPIRY_INDEX = "expires_at"
BLOCKED_INDEX = "blocked_at"  # when a READY optimization blocked it (stale-block alarm)
WAITING_INDEX = "waiting_for"  # `price:SPY` / `model:m` while an evaluation waits for it
SUBSCRIBED_INDEX = "subscribed_account"  # the account_id while it follows a model (active)
SUBSCRIPTION_DUE_INDEX = "subscription_due"  # a subscription's grace deadline (unknown model)


def sortable_instant(moment: datetime) -> str:
    """Fixed-width UTC text: string order is time order (the store compares index values as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def index_of(account: PortfolioAccount) -> dict[str, str | int | None]:
    portfolio = account.portfolio
    return {
        MODEL_INDEX: portfolio.settings.model_id,
        EXPIRY_INDEX: sortable_instant(account.expires_at) if account.expires_at else None,
        WAITING_INDEX: waiting.token if (waiting := portfolio.waiting_for) else None,
        BLOCKED_INDEX: sortable_instant(blocked_at)
        if portfolio.blocked_by and (blocked_at := portfolio.blocked_at)
        else None,
        SUBSCRIBED_INDEX: account.account_id
        if portfolio.settings.model_id is not None and portfolio.settings.active
        else None,
        SUBSCRIPTION_DUE_INDEX: sortable_instant(pending.deadline)
        if (pending := account.pending_subscription)
        else None,
    }


@dataclass(frozen=True)
class PortfolioRecord(PortfolioAccount):
    """The document as stored: the account and the decision records not yet appended."""

    pending_history: tuple[Json, ...] = ()  # decision records not yet known to be appended

    @property
    def account(self) -> PortfolioAccount:
        return PortfolioAccount(**{f.name: getattr(self, f.name) for f in fields(PortfolioAccount)})

    def index(self) -> dict[str, str | int | None]:
        return index_of(self)


def _portfolio_json(p: Portfolio) -> Json:
    awaiting = p.awaiting_owner
    return {
        "portfolio_id": p.portfolio_id,
        "holdings": {symbol: dec(qty) for symbol, qty in p.holdings.items()},
        "cash": dec(p.cash),
        "settings": settings_json(p.settings),
        "blocked_by": p.blocked_by,
        "blocked_run_type": str(p.blocked_run_type) if p.blocked_run_type else None,
        "blocked_at": iso(p.blocked_at),
        "awaiting_owner": None
        if awaiting is None
        else {
            "optimization_id": awaiting.optimization_id,
            "created_at": awaiting.created_at.isoformat(),
        },
        "last_rebalanced_at": iso(p.last_rebalanced_at),
        "last_automatic_optimization_day": iso(p.last_automatic_optimization_day),
        "funded": p.funded,
        "pending_withdrawal": dec(p.pending_withdrawal),
        "awaiting_client_holdings_after": iso(p.awaiting_client_holdings_after),
        "holdings_as_of": iso(p.holdings_as_of),
        "cooldown_waived": p.cooldown_waived,
        "targets_changed": p.targets_changed,
        "waiting_for": waiting_json(p.waiting_for),
        "deferred": deferred_json(p.deferred),
        "origin": origin_json(p.origin),
        "lots": lots_json(p.lots),
        "loss_sales": {symbol: day.isoformat() for symbol, day in p.loss_sales.items()},
        "carried": {symbol: dec(amount) for symbol, amount in p.carried.items()},
        "pending_retry": pending_retry_json(p.pending_retry),
        "retry_link": retry_link_json(p.retry_link),
    }


def _portfolio_of(d: Json) -> Portfolio:
    awaiting = d.get("awaiting_owner")
    blocked_run_type = d.get("blocked_run_type")
    return Portfolio(
        portfolio_id=d["portfolio_id"],
        holdings={symbol: Decimal(qty) for symbol, qty in d["holdings"].items()},
        cash=Decimal(d["cash"]),
        settings=settings_of(d["settings"]),
        blocked_by=d.get("blocked_by"),
        blocked_run_type=RunType(blocked_run_type) if blocked_run_type else None,
        blocked_at=to_datetime(d.get("blocked_at")),
        awaiting_owner=None
        if awaiting is None
        else AwaitingOwner(
            awaiting["optimization_id"], datetime.fromisoformat(awaiting["created_at"])
        ),
        last_rebalanced_at=to_date(d.get("last_rebalanced_at")),
        last_automatic_optimization_day=to_date(d.get("last_automatic_optimization_day")),
        funded=d.get("funded", False),
        pending_withdrawal=Decimal(d.get("pending_withdrawal", "0")),
        awaiting_client_holdings_after=to_datetime(d.get("awaiting_client_holdings_after")),
        holdings_as_of=to_datetime(d.get("holdings_as_of")),
        cooldown_waived=d.get("cooldown_waived", False),
        targets_changed=d.get("targets_changed", False),
        waiting_for=waiting_of(d.get("waiting_for")),
        deferred=deferred_of(d.get("deferred")),
        origin=origin_of(d.get("origin")),
        # documents stored before tax lots have neither: reconciled at the first use (lots.py)
        lots=lots_of(d.get("lots", {})),
        loss_sales={s: date.fromisoformat(day) for s, day in d.get("loss_sales", {}).items()},
        # a document older than carry-forward carries nothing
        carried={symbol: Decimal(amount) for symbol, amount in d.get("carried", {}).items()},
        pending_retry=pending_retry_of(d.get("pending_retry")),
        retry_link=retry_link_of(d.get("retry_link")),
    )


def deferred_json(d: Deferred | None) -> Json | None:
    if d is None:
        return None
    return {"reasons": [str(r) for r in d.reasons], "until": iso(d.until), "model_id": d.model_id}


def deferred_of(d: Json | None) -> Deferred | None:
    if d is None:
        return None
    reasons = tuple(TriggerReason(r) for r in d["reasons"])
    return Deferred(reasons, to_date(d.get("until")), d.get("model_id"))


def origin_json(o: Origin | None) -> Json | None:
    if o is None:
        return None
    return {
        "optimization_id": o.optimization_id,
        "trigger": trigger_json(o.trigger),
        "automatic_day": iso(o.automatic_day),
        "funded": o.funded,
        "targets_changed": o.targets_changed,
        "cooldown_waived": o.cooldown_waived,
        "deferred": deferred_json(o.deferred),
    }


def origin_of(d: Json | None) -> Origin | None:
    if d is None:
        return None
    return Origin(
        d["optimization_id"],
        trigger_of(d["trigger"]),
        to_date(d.get("automatic_day")),
        d["funded"],
        d["targets_changed"],
        d["cooldown_waived"],
        deferred_of(d.get("deferred")),
    )


def pending_json(p: PendingSubscription | None) -> Json | None:
    if p is None:
        return None
    return {"model_id": p.model_id, "deadline": p.deadline.isoformat(), "cause": p.cause_event_id}


def pending_of(d: Json | None) -> PendingSubscription | None:
    if d is None:
        return None
    return PendingSubscription(d["model_id"], datetime.fromisoformat(d["deadline"]), d["cause"])


def record_to_document(r: PortfolioAccount, pending_history: Sequence[Json] | None = None) -> Json:
    if pending_history is None:
        pending_history = r.pending_history if isinstance(r, PortfolioRecord) else ()
    return {
        "portfolio": _portfolio_json(r.portfolio),
        "account_id": r.account_id,
        "awaiting": optimization_json(r.awaiting) if r.awaiting else None,
        "expires_at": iso(r.expires_at),
        "pending_history": list(pending_history),
        "recent_deposits": list(r.recent_deposits),
        "recent_slots": list(r.recent_slots),
        "recent_external": list(r.recent_external),
        "last_optimization_id": r.last_optimization_id,
        "ready_event": r.ready_event,
        "recent_runs": list(r.recent_runs),
        "pending_subscription": pending_json(r.pending_subscription),
        "recent_expired": list(r.recent_expired),
        "recent_late_fills": list(r.recent_late_fills),
    }


def record_from_document(d: Json) -> PortfolioRecord:
    awaiting = d.get("awaiting")
    return PortfolioRecord(
        portfolio=_portfolio_of(d["portfolio"]),
        account_id=d["account_id"],
        awaiting=optimization_of(awaiting) if awaiting else None,
        expires_at=to_datetime(d.get("expires_at")),
        pending_history=tuple(d.get("pending_history", ())),
        recent_deposits=tuple(d.get("recent_deposits", ())),
        recent_slots=tuple(d.get("recent_slots", ())),
        recent_external=tuple(d.get("recent_external", ())),
        last_optimization_id=d.get("last_optimization_id"),
        ready_event=d.get("ready_event"),
        recent_runs=tuple(d.get("recent_runs", ())),
        pending_subscription=pending_of(d.get("pending_subscription")),
        recent_expired=tuple(d.get("recent_expired", ())),
        recent_late_fills=tuple(d.get("recent_late_fills", ())),
    )


class PortfolioDocumentMapping:
    """The service layer's `PortfolioDocuments` port (the portfolio repository's mapper)."""

    collection = PORTFOLIOS

    def from_document(self, state: Json) -> StoredPortfolio:
        record = record_from_document(state)
        return StoredPortfolio(record.account, record.pending_history)

    def to_document(self, stored: StoredPortfolio) -> Json:
        return record_to_document(stored.account, stored.pending_history)

    def index(self, stored: StoredPortfolio) -> dict[str, str | int | None]:
        return index_of(stored.account)

    def optimization(self, optimization: Optimization) -> Json:
        return optimization_json(optimization)


# Every indexed block is at or before this, whatever the clock says.
LATEST = sortable_instant(datetime.max.replace(tzinfo=UTC))


class StorePortfolioQueries:
    """The service layer's `PortfolioQueries` port, over the portfolio documents' indexes."""

    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def all(self, *, after: str | None, limit: int) -> list[str]:
        return await self.store.scan(PORTFOLIOS, after_id=after, limit=limit)

    async def subscribers(self, model_id: str, *, after: str | None, limit: int) -> list[str]:
        return await self.store.query(
            PORTFOLIOS, MODEL_INDEX, model_id, after_id=after, limit=limit
        )

    async def expired(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        return await self.store.query(
            PORTFOLIOS, EXPIRY_INDEX, sortable_instant(now), op="le", after_id=after, limit=limit
        )

    async def waiting(self, token: str, *, after: str | None, limit: int) -> list[str]:
        return await self.store.query(PORTFOLIOS, WAITING_INDEX, token, after_id=after, limit=limit)

    async def blocked(
        self, *, after: str | None, limit: int, at_or_before: datetime | None = None
    ) -> list[str]:
        latest = LATEST if at_or_before is None else sortable_instant(at_or_before)
        return await self.store.query(
            PORTFOLIOS, BLOCKED_INDEX, latest, op="le", after_id=after, limit=limit
        )

    async def subscribed(self, account_id: str, *, after: str | None, limit: int) -> list[str]:
        return await self.store.query(
            PORTFOLIOS, SUBSCRIBED_INDEX, account_id, after_id=after, limit=limit
        )

    async def subscriptions_due(self, now: datetime, *, after: str | None, limit: int) -> list[str]:
        due = sortable_instant(now)
        return await self.store.query(
            PORTFOLIOS, SUBSCRIPTION_DUE_INDEX, due, op="le", after_id=after, limit=limit
        )
