"""Kafka entry point: a subscriber per consumed topic, each a thin call into the handlers; the
three topics of a run's end (run.completed, run.settled, transaction.settled) share one batch
consumer, most of whose records (transaction.settled that is not late) are read and dropped.

What the optimizer publishes goes through its outbox (optimization.created, optimization.ready,
its own scope-`model` rebalance.requested, model.status_changed, request.rejected) or, for the
fan-out, straight to Kafka with deterministic ids (see service_layer/fanout.py).
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from faststream.kafka import KafkaRouter
from pydantic import Field

from rebal_optimizer.service_layer.handlers import OptimizerHandlers
from rebal_runtime.broker import document_publishers, subscriptions
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import (
    ModelUpdated,
    OptimizationDecided,
    OptimizationSubmitted,
    PortfolioPatched,
    PriceUpdated,
    RebalanceRequested,
    RunCompleted,
    RunSettled,
    TransactionSettled,
)
from rebal_schemas.topics import (
    MARKET_PRICES,
    MODEL_STATUS_CHANGED,
    MODEL_UPDATED,
    OPTIMIZATION_CREATED,
    OPTIMIZATION_DECIDED,
    OPTIMIZATION_READY,
    OPTIMIZATION_SUBMITTED,
    PORTFOLIO_PATCHED,
    REBALANCE_REQUESTED,
    REQUEST_REJECTED,
    RUN_COMPLETED,
    RUN_SETTLED,
    TRANSACTION_SETTLED,
)

RunOutcomeEvent: TypeAlias = Annotated[
    RunCompleted | RunSettled | TransactionSettled, Field(discriminator="event_type")
]
"""Every event of the three run topics the optimizer reads."""


def build_router(settings: RuntimeSettings, handlers: OptimizerHandlers) -> KafkaRouter:
    router = KafkaRouter()
    subscribe = subscriptions(router, settings)

    # The two topics a nightly batch or a burst of fundings floods (portfolio.patched and
    # rebalance.requested) are handled and committed in batches: one store write and one offset
    # commit per batch (see rebal_runtime.consume).
    @subscribe(
        PORTFOLIO_PATCHED,
        "Settings create/patch a portfolio (a second subscription of an account, or "
        "one to an inactive model, is refused with request.rejected; one to a model not read "
        "yet waits `model_wait_seconds` for it); holdings, deposits and withdrawal requests "
        "update it; each is evaluated with its trigger. Consumed in batches.",
        batch=True,
    )
    async def on_portfolio_patched(events: list[PortfolioPatched]) -> None:
        await handlers.portfolio_patched_batch(events)

    @subscribe(
        MODEL_UPDATED,
        "Stores the model with its governed status (needs_adjustment while it holds "
        "an ineligible symbol without fallback; model.status_changed on every status change); "
        "deactivating a model with active subscribers is refused (request.rejected MODEL_IN_USE); "
        "a change of weights, conditions or fallbacks re-evaluates its subscribers.",
    )
    async def on_model_updated(event: ModelUpdated) -> None:
        await handlers.model_updated(event)

    @subscribe(
        MARKET_PRICES,
        "Keeps the last price of each symbol (by as_of). A symbol that becomes not "
        "tradable (or not fractionable where subscribers trade fractions) turns every active "
        "model holding it without a fallback into needs_adjustment (model.status_changed).",
    )
    async def on_price(event: PriceUpdated) -> None:
        await handlers.price_updated(event)

    @subscribe(
        REBALANCE_REQUESTED,
        "Scope portfolio: evaluate it and answer (the optimization, or a "
        "NOT_RECOMMENDED decision record naming the rule; a client's request a rule holds also "
        "with request.rejected). Scope model/all: fan out one scope-portfolio request per "
        "portfolio. Consumed in batches.",
        batch=True,
    )
    async def on_rebalance_requested(events: list[RebalanceRequested]) -> None:
        await handlers.rebalance_requested_batch(events)

    @subscribe(
        OPTIMIZATION_SUBMITTED,
        "An external optimizer's orders, validated against holdings, cash and prices.",
    )
    async def on_submitted(event: OptimizationSubmitted) -> None:
        await handlers.optimization_submitted(event)

    @subscribe(
        OPTIMIZATION_DECIDED,
        "The owner's ACCEPT, REJECT or REOPTIMIZE of an advisory optimization; a "
        "choice on an expired or unknown optimization is refused (request.rejected).",
    )
    async def on_decided(event: OptimizationDecided) -> None:
        await handlers.optimization_decided(event)

    @subscribe(
        (RUN_COMPLETED, RUN_SETTLED, TRANSACTION_SETTLED),
        "A run's end, in one consumer of its three topics, in batches, each event in the order "
        "it came. run.completed: every order is final: the executed trades are applied to "
        "holdings and cash once (CLIENT integration: to the optimizer's own book, then it waits "
        "for the client's holdings until `client_holdings_wait_seconds`); a full rebalance starts "
        "the cooldown; unblocks the portfolio only under `unblock_on=execution`; a `replan` run "
        "(stopped at its start, prices moved) starts no cooldown and, when it unblocks, is "
        "planned again. run.settled: every transaction is final: unblocks the portfolio (and "
        "applies the trades if run.completed was not read yet; either order gives the same "
        "state); a `replan` run is planned again at once under its optimization's trigger "
        "(reason REPLANNED). transaction.settled: a late fill (`late`: executed after its run "
        "ended, not in its run.completed) is applied to a PLATFORM portfolio's holdings and "
        "cash once per run and leg, the block and the cooldown staying as they are; CLIENT "
        "portfolios and fills that are not late: ignored.",
        batch=True,
    )
    async def on_run_outcomes(events: list[RunOutcomeEvent]) -> None:
        await handlers.run_outcomes(events)

    document_publishers(
        router,
        OPTIMIZATION_CREATED.name,
        OPTIMIZATION_READY.name,
        REBALANCE_REQUESTED.name,
        MODEL_STATUS_CHANGED.name,
        REQUEST_REJECTED.name,
    )
    return router
