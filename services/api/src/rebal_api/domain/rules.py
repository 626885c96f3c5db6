"""The refusals the api answers at once, with 422, from what its read model shows (pure).

The owning services stay the authority: a request that passes here may still be refused later
(`request.rejected`), e.g. when two requests race. Each function returns the refusal's message,
or None when the request may go.
"""

from __future__ import annotations

from rebal_api.domain.views import AccountView, ModelView


def subscribe_refusal(account: AccountView | None, model: ModelView | None) -> str | None:
    if model is None:
        return "portfolio not found"
    if model.status != "active":
        return f"portfolio {model.uuid} is {model.status}: only an active portfolio can be subscribed to"
    if account is not None and account.subscription is not None:
        return (
            f"account {account.account_uuid} already has an active subscription "
            f"({account.subscription.uuid}); delete it first"
        )
    return None


def inactivate_refusal(model: ModelView, subscribers: int) -> str | None:
    if subscribers:
        return (
            f"portfolio {model.uuid} has active subscriptions: delete them before inactivating it"
        )
    return None


def run_refusal(account: AccountView | None, own_weights: bool, open_runs: int) -> str | None:
    if account is None:
        return "account not found: subscribe it to a portfolio, or let rebal know it first"
    if own_weights and account.subscription is not None:
        return (
            "a run with its own weights is refused while the account has an active "
            f"subscription ({account.subscription.uuid}); delete the subscription first"
        )
    if not own_weights and account.subscription is None:
        return "the account has no active subscription: give the run its weights"
    if open_runs:
        return "the account already has a run that is not final; try again once it is"
    return None


def cancel_refusal(status: str, is_final: bool, rebal_run_known: bool) -> str | None:
    if is_final:
        return f"run is {status}: a final run cannot be canceled"
    if not rebal_run_known:
        return "run is being prepared by rebal; cancel it once it is QUEUED with its orders"
    return None
