"""Model governance (docs/design.md §3 "Model governance", Alpaca's rules): the requests about
models and subscriptions that are refused, and a model's status as the price feed sees its symbols.

- An account has at most one active subscription (ALREADY_SUBSCRIBED); subscribing to an inactive
  model is refused (MODEL_INACTIVE), to a model the optimizer has not read yet is accepted and kept
  pending for a grace period (model.updated and portfolio.patched have no order between them),
  refused at its end if the model is still unknown (MODEL_UNKNOWN) or arrived inactive.
- A model with an active subscriber cannot be deactivated (MODEL_IN_USE): it stays as it was.
  ("Used as a weight elsewhere" cannot happen here: a weight is cash or an asset, never a model.)
- A symbol that is not tradable, or not fractionable where subscribers trade fractions, is
  ineligible: an active model holding it needs adjustment, unless the model names a fallback for
  it; then its subscribers trade the fallback instead while the symbol is ineligible.

Pure: the service layer looks up the subscribers and prices and passes what it found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from rebal_optimizer.domain.drift import current_weights
from rebal_optimizer.domain.enums import ModelStatus
from rebal_optimizer.domain.model_portfolio import ZERO, ModelPortfolio, TargetWeights, Weight
from rebal_optimizer.domain.prices import Prices

ALREADY_SUBSCRIBED = "ALREADY_SUBSCRIBED"
MODEL_IN_USE = "MODEL_IN_USE"
MODEL_INACTIVE = "MODEL_INACTIVE"
MODEL_UNKNOWN = "MODEL_UNKNOWN"
OPTIMIZATION_EXPIRED = "OPTIMIZATION_EXPIRED"
OPTIMIZATION_UNKNOWN = "OPTIMIZATION_UNKNOWN"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request refused by a rule: the `request.rejected` reason code and its message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PendingSubscription:
    """A subscription to a model not read yet: refused at `deadline` if it is still unknown."""

    model_id: str
    deadline: datetime
    cause_event_id: str  # the portfolio.settings_changed that subscribed


def subscription_refusal(
    model_id: str, model: ModelPortfolio | None, *, account_id: str, subscribed: str | None
) -> Refusal | None:
    """`subscribed`: another portfolio of the account with an active subscription, if any."""
    if subscribed is not None:
        return Refusal(
            ALREADY_SUBSCRIBED,
            f"account {account_id} already follows a model through portfolio {subscribed}: "
            f"the subscription to {model_id} is not applied",
        )
    if model is not None and model.status is ModelStatus.INACTIVE:
        return Refusal(MODEL_INACTIVE, f"model {model_id} is inactive: not subscribed")
    return None


def overdue_subscription_refusal(
    pending: PendingSubscription, model: ModelPortfolio | None
) -> Refusal | None:
    """At the end of the grace period: still unknown, or arrived inactive."""
    if model is None:
        return Refusal(
            MODEL_UNKNOWN,
            f"model {pending.model_id} did not arrive by {pending.deadline.isoformat()}: "
            "the subscription is ended",
        )
    if model.status is ModelStatus.INACTIVE:
        return Refusal(
            MODEL_INACTIVE, f"model {pending.model_id} is inactive: the subscription is ended"
        )
    return None


def deactivation_refusal(
    previous: ModelPortfolio | None, sent: ModelPortfolio, active_subscriber: str | None
) -> Refusal | None:
    deactivates = sent.status is ModelStatus.INACTIVE and (
        previous is not None and previous.status is not ModelStatus.INACTIVE
    )
    if not deactivates or active_subscriber is None:
        return None
    return Refusal(
        MODEL_IN_USE,
        f"model {sent.model_id} has active subscribers (portfolio {active_subscriber}): "
        "it stays as it was",
    )


def ineligible(symbols: Iterable[str], prices: Prices, *, fractional: bool) -> dict[str, str]:
    """Symbol -> why it cannot be traded as the model wants: not tradable, or not fractionable
    when fractions are traded. A symbol without a price is not judged."""
    found: dict[str, str] = {}
    for symbol in sorted(set(symbols)):
        quote = prices.get(symbol)
        if quote is None:
            continue
        if not quote.tradable:
            found[symbol] = "not tradable"
        elif fractional and not quote.fractionable:
            found[symbol] = "not fractionable"
    return found


def held_symbols(model: ModelPortfolio) -> set[str]:
    return {w.symbol for w in model.weights if w.symbol is not None}


def governed(sent: ModelPortfolio, unfit: Iterable[str]) -> ModelPortfolio:
    """The model as stored: an active one holding an ineligible symbol without a fallback
    needs adjustment (with those symbols); one without any is active."""
    if sent.status is ModelStatus.INACTIVE:
        return sent.with_status(ModelStatus.INACTIVE)
    symbols = sorted(set(unfit) & held_symbols(sent) - set(sent.fallbacks))
    if symbols:
        return sent.with_status(ModelStatus.NEEDS_ADJUSTMENT, symbols)
    if sent.status is ModelStatus.NEEDS_ADJUSTMENT and sent.ineligible:
        return sent
    return sent.with_status(ModelStatus.ACTIVE)


def symbol_became_ineligible(model: ModelPortfolio, symbol: str) -> ModelPortfolio | None:
    """The price feed says `symbol` is ineligible: the model, changed, if it is affected."""
    if model.status is ModelStatus.INACTIVE or symbol not in held_symbols(model):
        return None
    if symbol in model.fallbacks or symbol in model.ineligible:
        return None
    return model.with_status(ModelStatus.NEEDS_ADJUSTMENT, (*model.ineligible, symbol))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """What `model.status_changed` says."""

    model_id: str
    previous: ModelStatus
    status: ModelStatus
    symbols: tuple[str, ...]
    fallbacks: Mapping[str, str]
    reason: str


def status_change(
    previous: ModelPortfolio | None, current: ModelPortfolio, why: str = ""
) -> StatusChange | None:
    """A stored model whose status changed (a new model has no previous status)."""
    if previous is None or previous.status is current.status:
        return None
    symbols = current.ineligible or previous.ineligible
    if current.status is ModelStatus.NEEDS_ADJUSTMENT:
        reason = why or f"ineligible: {', '.join(symbols)}"
    elif current.status is ModelStatus.ACTIVE:
        reason = why or "the model no longer holds an ineligible symbol without fallback"
    else:
        reason = why or "deactivated"
    fallbacks = {s: f for s, f in current.fallbacks.items()}
    return StatusChange(
        current.model_id, previous.status, current.status, tuple(symbols), fallbacks, reason
    )


def substitute(
    weights: Iterable[Weight], fallbacks: Mapping[str, str], unfit: Mapping[str, str]
) -> tuple[tuple[Weight, ...], dict[str, str]]:
    """The weights with each ineligible symbol that has a fallback mapped to the fallback, and
    those substitutions (symbol -> fallback)."""
    used: dict[str, str] = {}
    mapped: list[Weight] = []
    for weight in weights:
        fallback = fallbacks.get(weight.symbol or "")
        if weight.symbol is not None and weight.symbol in unfit and fallback is not None:
            used[weight.symbol] = fallback
            mapped.append(Weight(weight.type, fallback, weight.percent))
        else:
            mapped.append(weight)
    return tuple(mapped), used


def kept_in_place(
    targets: TargetWeights,
    holdings: Mapping[str, Decimal],
    cash: Decimal,
    prices: Prices,
    fallbacks: Mapping[str, str],
) -> TargetWeights:
    """The targets as drift sees them while fallbacks stand in: a held ineligible symbol keeps
    its current weight (it cannot be traded) and its fallback's target is what is left of the
    symbol's. Every holding needs a price."""
    kept = {s: f for s, f in fallbacks.items() if holdings.get(s, ZERO) > 0}
    if not kept:
        return targets
    weights, _ = current_weights(holdings, cash, prices)
    assets = dict(targets.assets)
    for symbol, fallback in kept.items():
        assets[symbol] = weights.get(symbol, ZERO)
        assets[fallback] = max(ZERO, assets.get(fallback, ZERO) - assets[symbol])
    return TargetWeights(assets, targets.cash)
