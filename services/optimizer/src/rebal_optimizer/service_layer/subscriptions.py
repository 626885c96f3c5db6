"""Subscriptions (a portfolio.settings_changed with a new `model_id`), governed by the rules of
domain/governance.py: one active subscription per account (ALREADY_SUBSCRIBED), none to an
inactive model (MODEL_INACTIVE). A refused subscription is not applied (the rest of the patch is)
and answered with `request.rejected`.

A subscription to a model not read yet is accepted and kept pending for `model_wait` (the grace:
model.updated and portfolio.patched have no order between them); the portfolio waits for the
model meanwhile (`waiting_for`). The expiry sweep (`refuse_overdue`, run with the advisory expiry)
ends the grace: a model still unknown (MODEL_UNKNOWN) or arrived inactive (MODEL_INACTIVE) ends
the subscription and answers the settings event with `request.rejected`.

The account check reads the other portfolios' index (`subscribed_account`), then takes the
account's claim (domain/account_claim.py): two subscriptions of one account handled at the same
moment on different partitions both pass the index, but only one wins the claim. The claim is
released when the portfolio stops following a model, before the portfolio is written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from rebal_optimizer.domain import (
    PendingSubscription,
    PortfolioAccount,
    PortfolioSettings,
    overdue_subscription_refusal,
    subscription_refusal,
)
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.evaluation import OptimizerConfig
from rebal_optimizer.service_layer.ports import AccountClaims, PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.rejections import rejected, rejecting
from rebal_optimizer.service_layer.unit_of_work import Outcome, Step
from rebal_runtime.log import get_logger
from rebal_schemas import PortfolioSettingsChanged, RequestRejected

log = get_logger(__name__)
PAGE = 500
Update = Callable[[str, str | None, Step], Awaitable[Outcome | None]]


@dataclass(frozen=True)
class Verdict:
    settings: PortfolioSettings  # what is applied
    pending: PendingSubscription | None = None
    rejection: RequestRejected | None = None


class Subscriptions:
    def __init__(
        self,
        queries: PortfolioQueries,
        reference: ReferenceData,
        claims: AccountClaims,
        update: Update,
        config: OptimizerConfig,
    ) -> None:
        self.queries = queries
        self.reference = reference
        self.claims = claims
        self.update = update
        self.config = config

    async def govern(
        self, record: PortfolioAccount, event: PortfolioSettingsChanged, now: datetime
    ) -> Verdict:
        """The settings the patch gives, or without its subscription when a rule refuses it."""
        current = record.portfolio.settings
        settings = inputs.patched_settings(current, event)
        model_id = settings.model_id
        account_id = event.account_id or record.account_id
        leaves = model_id is None or account_id != record.account_id
        if leaves and current.model_id is not None:  # its claim, if it holds one, is given up
            await self.claims.release(record.account_id, record.portfolio_id, now)
        if model_id is None or model_id == current.model_id:
            return Verdict(settings)
        elsewhere = await self._subscribed_elsewhere(account_id, record.portfolio_id)
        model = await self.reference.model(model_id)
        refusal = subscription_refusal(
            model_id,
            model,
            account_id=account_id,
            subscribed=elsewhere if settings.active else None,
        )
        if refusal is None and settings.active:
            holder = await self.claims.claim(
                account_id, record.portfolio_id, now, self._is_subscribed(account_id)
            )
            refusal = subscription_refusal(
                model_id, model, account_id=account_id, subscribed=holder
            )
        if refusal is not None:
            log.info("subscription refused", code=refusal.code, model_id=model_id)
            kept = inputs.patched_settings(current, event, skip=frozenset({"model_id"}))
            about = {"portfolio_id": record.portfolio_id, "account_id": account_id}
            rejection = rejecting(event, refusal, self.config.producer, model_id=model_id, **about)
            return Verdict(kept, rejection=rejection)
        if model is None:
            deadline = now + self.config.model_wait
            return Verdict(settings, PendingSubscription(model_id, deadline, event.event_id))
        return Verdict(settings)

    async def _subscribed_elsewhere(self, account_id: str, portfolio_id: str) -> str | None:
        others = await self.queries.subscribed(account_id, after=None, limit=2)
        return next((pid for pid in others if pid != portfolio_id), None)

    def _is_subscribed(self, account_id: str) -> Callable[[str], Awaitable[bool]]:
        async def subscribed(portfolio_id: str) -> bool:
            # An account has one subscribed portfolio, two while a race is being refused.
            return portfolio_id in await self.queries.subscribed(account_id, after=None, limit=50)

        return subscribed

    async def refuse_overdue(self, now: datetime) -> int:
        """End the grace of every pending subscription due by `now`; returns how many were
        refused."""
        refused = 0
        after: str | None = None
        while True:
            ids = await self.queries.subscriptions_due(now, after=after, limit=PAGE)
            for portfolio_id in ids:
                outcome = await self.update(portfolio_id, None, self._end_grace(now))
                refused += outcome is not None and bool(outcome.publish)
            if len(ids) < PAGE:
                return refused
            after = ids[-1]

    def _end_grace(self, now: datetime) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            pending = record.pending_subscription if record is not None else None
            if record is None or pending is None or pending.deadline > now:
                return None
            model = await self.reference.model(pending.model_id)
            refusal = overdue_subscription_refusal(pending, model)
            follows = record.portfolio.settings.model_id == pending.model_id
            ended = record.end_pending_subscription(refused=refusal is not None)
            if refusal is None or not follows:  # arrived in time, or subscribed elsewhere since
                return Outcome(ended)
            log.info("subscription ended: model not here", code=refusal.code, model=model is None)
            await self.claims.release(record.account_id, record.portfolio_id, now)
            rejection = rejected(
                refusal,
                request_id=pending.cause_event_id,
                request_type="portfolio.settings_changed",
                producer=self.config.producer,
                portfolio_id=record.portfolio_id,
                account_id=record.account_id,
                model_id=pending.model_id,
            )
            return Outcome(ended, [rejection])

        return step
