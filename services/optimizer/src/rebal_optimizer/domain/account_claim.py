"""One active subscription per account, also when an account's portfolios sit on different
partitions (docs/design.md §3 "Model governance").

An account's claim names the portfolio that holds its one subscription. A subscription takes the
claim in its own atomic write before its portfolio is written, so of two subscriptions of one
account handled at the same moment, exactly one wins the claim's version check and the other is
refused ALREADY_SUBSCRIBED. The claim is released (before the portfolio is written) when its
portfolio stops following a model.

A claim whose portfolio is not subscribed is either in flight (taken, its portfolio not written
yet) or left behind (its portfolio went inactive, or was refused on a redelivery). It is kept for
`CLAIM_IN_FLIGHT` after it was taken, which covers a step and its version-conflict retries, and
may be taken over after that. A portfolio whose claim was taken over while it was down is refused
when its event is redelivered: the outcome is one subscription either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

CLAIM_IN_FLIGHT = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class AccountClaim:
    portfolio_id: str | None  # None: released
    claimed_at: datetime


def claim_holder(
    claim: AccountClaim | None, portfolio_id: str, *, holder_subscribed: bool, now: datetime
) -> str | None:
    """The other portfolio that keeps the account's subscription, or None when `portfolio_id`
    holds the claim or may take it."""
    if claim is None or claim.portfolio_id in (None, portfolio_id):
        return None
    if holder_subscribed or now - claim.claimed_at < CLAIM_IN_FLIGHT:
        return claim.portfolio_id
    return None
