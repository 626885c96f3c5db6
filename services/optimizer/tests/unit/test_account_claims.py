"""One active subscription per account when the account's portfolios are handled at the same
moment (domain/account_claim.py): they both pass the subscribed-portfolio index, which is written
with each portfolio, but only one takes the account's claim."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from rebal_optimizer.adapters.account_claims import StoreAccountClaims
from rebal_optimizer.domain.account_claim import CLAIM_IN_FLIGHT, AccountClaim, claim_holder
from rebal_runtime.store import Document, InMemoryStore
from rebal_schemas import PortfolioSettingsChanged, RequestRejected

from .conftest import NOW, Env


def settings(portfolio_id: str, model_id: str | None, account_id: str) -> PortfolioSettingsChanged:
    return PortfolioSettingsChanged(
        portfolio_id=portfolio_id, model_id=model_id, account_id=account_id
    )


def refused(events: list[object]) -> list[tuple[str | None, str]]:
    return [(e.portfolio_id, e.reason_code) for e in events if isinstance(e, RequestRejected)]


def test_a_claim_is_kept_while_its_holder_is_subscribed_or_in_flight() -> None:
    held = AccountClaim("p1", NOW)
    assert claim_holder(None, "p2", holder_subscribed=False, now=NOW) is None
    assert claim_holder(held, "p1", holder_subscribed=True, now=NOW) is None
    assert claim_holder(AccountClaim(None, NOW), "p2", holder_subscribed=False, now=NOW) is None
    late = NOW + CLAIM_IN_FLIGHT
    assert claim_holder(held, "p2", holder_subscribed=True, now=late + timedelta(days=9)) == "p1"
    assert (
        claim_holder(held, "p2", holder_subscribed=False, now=late - timedelta(seconds=1)) == "p1"
    )
    assert claim_holder(held, "p2", holder_subscribed=False, now=late) is None  # left behind


async def test_two_subscriptions_of_one_account_in_one_batch_one_is_refused(env: Env) -> None:
    await env.model("m1")
    first, second = settings("p1", "m1", "acct"), settings("p2", "m1", "acct")
    await env.handlers.portfolio_patched_batch([first, second])
    assert refused(env.new()) == [("p2", "ALREADY_SUBSCRIBED")]
    assert (await env.record("p1")).portfolio.settings.model_id == "m1"
    assert (await env.record("p2")).portfolio.settings.model_id is None


async def test_an_unsubscribed_portfolio_gives_up_its_claim(env: Env) -> None:
    await env.model("m1")
    await env.handlers.portfolio_patched(settings("p1", "m1", "acct"))
    await env.handlers.portfolio_patched(settings("p1", None, "acct"))
    await env.handlers.portfolio_patched(settings("p2", "m1", "acct"))
    assert refused(env.new()) == []
    assert (await env.record("p2")).portfolio.settings.model_id == "m1"


class InterleavedStore(InMemoryStore):
    """Every load yields to the other tasks first: two claims read the same version."""

    async def load(self, collection: str, doc_id: str) -> Document | None:
        doc = await super().load(collection, doc_id)
        await asyncio.sleep(0)
        return doc


async def test_claims_at_the_same_moment_have_one_winner() -> None:
    claims = StoreAccountClaims(InterleavedStore())

    async def nobody(_: str) -> bool:
        return False

    holders = await asyncio.gather(*(claims.claim("acct", f"p{i}", NOW, nobody) for i in range(5)))
    winners = [f"p{i}" for i, holder in enumerate(holders) if holder is None]
    assert len(winners) == 1
    assert set(holders) == {None, winners[0]}
    await claims.release("acct", "p9", NOW)  # not the holder: nothing changes
    assert await claims.claim("acct", "p9", NOW, nobody) == winners[0]
    await claims.release("acct", winners[0], NOW)
    assert await claims.claim("acct", "p9", NOW, nobody) is None
