"""Publish optimization.ready again after the Kafka broker lost records (the embedded Tansu
broker keeps nothing across a restart).

A READY optimization blocks its portfolio until its run's outcome comes back. If the broker lost
the optimization.ready before the order-router and the settlement-tracker read it, no run ever
starts and the portfolio stays blocked for good (only the stale-block alarm says so). So when the
runtime's watchdog finds that the broker lost records (`ServiceRuntime.on_broker_data_lost`),
every portfolio blocked by a READY optimization publishes its ready event again: the very event
kept in its document when it became blocked (same event_id, same content). A consumer that had
it drops it in its inbox; the order-router stores one run per optimization id and derives every
client_order_id from the run and the leg, so a ready read twice never places an order twice.

Portfolios are found through the `blocked_at` index (`PortfolioQueries.blocked`) (paged, as the stale-block alarm does) and
each one is published through its own commit: the same record, new outbox rows. A portfolio
blocked before the document kept its ready event cannot publish the identical event again (its
times are not stored anywhere else); it is logged and skipped, and the stale-block alarm still
watches it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rebal_optimizer.domain import PortfolioAccount
from rebal_optimizer.service_layer.ports import PortfolioQueries
from rebal_optimizer.service_layer.unit_of_work import Outcome, PortfolioUnitOfWork
from rebal_runtime.log import get_logger
from rebal_schemas import OptimizationReady, PoisonMessage, decode

log = get_logger(__name__)
PAGE = 500


@dataclass
class Redelivery:
    """What one round did: ready events published again, blocked portfolios skipped."""

    republished: int = 0
    skipped: int = 0
    failed: int = 0


async def blocked_portfolios(queries: PortfolioQueries) -> list[str]:
    """Ids of every portfolio with an indexed block, in id order."""
    ids: list[str] = []
    after: str | None = None
    while True:
        page = await queries.blocked(after=after, limit=PAGE)
        ids.extend(page)
        if len(page) < PAGE:
            return ids
        after = page[-1]


def stored_ready(record: PortfolioAccount) -> OptimizationReady | None:
    """The ready event of the optimization blocking the portfolio, as first published; None
    when the document does not keep it (blocked before it was kept) or keeps another one."""
    blocked_by = record.portfolio.blocked_by
    if blocked_by is None or record.ready_event is None:
        return None
    event = decode(OptimizationReady.TOPIC, record.ready_event)
    if not isinstance(event, OptimizationReady) or event.optimization_id != blocked_by:
        return None
    return event


class ReadyRedelivery:
    def __init__(self, queries: PortfolioQueries, portfolios: PortfolioUnitOfWork) -> None:
        self.queries = queries
        self.portfolios = portfolios

    async def republish(self, portfolio_id: str) -> bool | None:
        """Publish the portfolio's ready event again: True when published, False when the
        document does not keep it, None when the portfolio is no longer blocked."""
        published: bool | None = None

        async def step(record: PortfolioAccount | None) -> Outcome | None:
            nonlocal published
            published = None
            if record is None or record.portfolio.blocked_by is None:
                return None  # unblocked since the index was read
            try:
                event = stored_ready(record)
            except PoisonMessage as exc:  # kept, but no longer readable: as good as missing
                log.warning("kept optimization.ready unreadable", error=exc.reason)
                event = None
            if event is None:
                published = False
                log.warning(
                    "blocked portfolio keeps no optimization.ready (blocked before it was "
                    "kept); not published again, the stale-block alarm still watches it",
                    optimization_id=record.portfolio.blocked_by,
                )
                return None
            published = True
            return Outcome(record, [event])

        await self.portfolios.update(portfolio_id, None, step)
        return published

    async def republish_blocked(self, reason: str = "") -> Redelivery:
        """Publish every blocked portfolio's ready event again; one warning line says how many."""
        done = Redelivery()
        for portfolio_id in await blocked_portfolios(self.queries):
            try:
                published = await self.republish(portfolio_id)
            except Exception as exc:  # one portfolio's failure must not keep the others waiting
                done.failed += 1
                log.warning(
                    "publishing optimization.ready again failed",
                    portfolio_id=portfolio_id,
                    error=repr(exc),
                )
                continue
            if published:
                done.republished += 1
            elif published is False:
                done.skipped += 1
        log.warning(
            "broker lost records: optimization.ready published again for blocked portfolios "
            "(consumers drop the ones they had)",
            reason=reason,
            republished=done.republished,
            skipped=done.skipped,
            failed=done.failed,
        )
        return done
