"""Account claims (collection `account_claims`, one document per account id): the portfolio that
holds the account's one subscription (domain/account_claim.py). Each change is one versioned
write, so two portfolios claiming one account at the same moment cannot both win."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from rebal_optimizer.domain.account_claim import AccountClaim, claim_holder
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once

ACCOUNT_CLAIMS = "account_claims"


def _claim_of(doc: Document | None) -> AccountClaim | None:
    if doc is None:
        return None
    return AccountClaim(doc.state.get("portfolio_id"), datetime.fromisoformat(doc.state["at"]))


class StoreAccountClaims:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store

    async def claim(
        self,
        account_id: str,
        portfolio_id: str,
        now: datetime,
        subscribed: Callable[[str], Awaitable[bool]],
    ) -> str | None:
        holder: list[str | None] = [None]

        async def mutate(doc: Document | None) -> Change | None:
            claim = _claim_of(doc)
            held_by = claim.portfolio_id if claim is not None else None
            live = held_by not in (None, portfolio_id) and await subscribed(str(held_by))
            holder[0] = claim_holder(claim, portfolio_id, holder_subscribed=live, now=now)
            if holder[0] is not None or held_by == portfolio_id:
                return None
            return Change({"portfolio_id": portfolio_id, "at": now.isoformat()})

        await apply_once(self.store, ACCOUNT_CLAIMS, account_id, None, mutate)
        return holder[0]

    async def release(self, account_id: str, portfolio_id: str, now: datetime) -> None:
        async def mutate(doc: Document | None) -> Change | None:
            claim = _claim_of(doc)
            if claim is None or claim.portfolio_id != portfolio_id:
                return None
            return Change({"portfolio_id": None, "at": now.isoformat()})

        await apply_once(self.store, ACCOUNT_CLAIMS, account_id, None, mutate)
