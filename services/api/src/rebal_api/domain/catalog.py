"""Models (Alpaca portfolios) and accounts (Alpaca subscriptions) in the read model (pure).

Every change names the event that made it; a status change of a model leaves a
`portfolio.status_changed` entry for the rebalancer stream (`stream_id` is its ULID).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from rebal_api.domain.alpaca import portfolio_json, ts
from rebal_api.domain.ids import to_uuid
from rebal_api.domain.views import (
    AccountView,
    ConditionView,
    ModelView,
    StreamEntry,
    Subscription,
    WeightView,
)


@dataclass(frozen=True)
class ModelFacts:
    """What `model.updated` says: the whole model as it now is."""

    model_id: str
    name: str
    description: str
    status: str
    cooldown_days: int
    weights: tuple[WeightView, ...]
    conditions: tuple[ConditionView, ...]


def _status_entry(
    model: ModelView, previous: str | None, stream_id: str, at: datetime
) -> StreamEntry:
    return StreamEntry(
        stream_id,
        {
            "event_id": stream_id,
            "event_type": "portfolio.status_changed",
            "at": ts(at),
            "portfolio": portfolio_json(model, stream=True),
            "previous_status": previous,
        },
    )


def _with_status_entry(
    model: ModelView, previous: str | None, stream_id: str, at: datetime
) -> ModelView:
    if previous == model.status:
        return replace(model, stream=())
    return replace(model, stream=(_status_entry(model, previous, stream_id, at),))


def model_updated(
    current: ModelView | None, facts: ModelFacts, event_id: str, at: datetime, stream_id: str
) -> ModelView:
    """The model as `model.updated` describes it (created on first sight)."""
    previous = current.status if current is not None else None
    model = ModelView(
        model_id=facts.model_id,
        uuid=to_uuid("model", facts.model_id),
        name=facts.name,
        description=facts.description,
        status=facts.status,
        cooldown_days=facts.cooldown_days,
        weights=facts.weights,
        conditions=facts.conditions,
        created_at=current.created_at if current is not None else at,
        updated_at=at,
        last_event_id=event_id,
        previous_status=previous,
    )
    return _with_status_entry(model, previous, stream_id, at)


def model_status_changed(
    current: ModelView | None,
    status: str,
    event_id: str,
    at: datetime,
    stream_id: str,
    symbols: tuple[str, ...] = (),
) -> ModelView | None:
    """`model.status_changed` (the optimizer found an ineligible symbol, `symbols`, ...)."""
    if current is None or current.status == status:
        return None
    model = replace(
        current,
        status=status,
        ineligible=symbols if status == "needs_adjustment" else (),
        updated_at=at,
        last_event_id=event_id,
        previous_status=current.status,
    )
    return _with_status_entry(model, current.status, stream_id, at)


def model_change_refused(
    current: ModelView | None, causation_id: str, at: datetime, stream_id: str
) -> ModelView | None:
    """A refusal of the model's last change (deactivating a model in use) restores its status."""
    if current is None or current.last_event_id != causation_id or current.previous_status is None:
        return None
    model = replace(current, status=current.previous_status, updated_at=at, previous_status=None)
    return _with_status_entry(model, current.status, stream_id, at)


# -- accounts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SettingsFacts:
    """What a `portfolio.settings_changed` says about the account and its targets. `model_set`:
    the event names `model_id` (null ends the subscription); `weights_set`: it names own target
    weights (non-null: the portfolio follows them, not a model)."""

    portfolio_id: str
    account_id: str | None
    model_set: bool
    model_id: str | None
    weights_set: bool
    has_weights: bool


def settings_changed(
    current: AccountView | None, facts: SettingsFacts, event_id: str, at: datetime
) -> AccountView:
    account = current or AccountView(
        portfolio_id=facts.portfolio_id,
        account_id=None,
        account_uuid=None,
        subscription=None,
        own_weights=False,
        created_at=at,
        updated_at=at,
    )
    account_id = facts.account_id or account.account_id
    subscription = account.subscription
    own_weights = account.own_weights
    if facts.model_set:
        if facts.model_id is None:
            subscription = None
        elif subscription is None or subscription.model_id != facts.model_id:
            subscription = Subscription(
                uuid=to_uuid("subscription", event_id),
                model_id=facts.model_id,
                created_at=at,
                updated_at=at,
                request_id=event_id,
            )
        if facts.model_id is not None:
            own_weights = False
    if facts.weights_set:
        own_weights = facts.has_weights
        if facts.has_weights:
            subscription = None
    return replace(
        account,
        account_id=account_id,
        account_uuid=to_uuid("account", account_id) if account_id is not None else None,
        subscription=subscription,
        own_weights=own_weights,
        updated_at=at,
    )


def subscription_refused(current: AccountView | None, causation_id: str) -> AccountView | None:
    """The owner refused the settings event that made the subscription: it never existed."""
    if current is None or current.subscription is None:
        return None
    if current.subscription.request_id != causation_id:
        return None
    return replace(current, subscription=None)


def rebalanced(current: AccountView | None, at: datetime) -> AccountView | None:
    """A run of the account completed: its subscription's `last_rebalanced_at`."""
    if current is None or (
        current.last_rebalanced_at is not None and current.last_rebalanced_at >= at
    ):
        return None
    return replace(current, last_rebalanced_at=at)
