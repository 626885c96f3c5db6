"""Kafka entry point: one subscriber per consumed topic, each a thin call into the handlers.

What the optimizer publishes goes through its outbox (optimization.created, optimization.ready,
its own scope-`model` rebalance.requested) or, for the fan-out, straight to Kafka with
deterministic ids (see service_layer/fanout.py).
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_optimizer.service_layer.handlers import OptimizerHandlers
from rebal_runtime.broker import (
    batch_subscriber_options,
    document_publishers,
    subscriber_options,
)
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import (
    ModelUpdated,
    OptimizationDecided,
    OptimizationSubmitted,
    PortfolioPatched,
    PriceUpdated,
    RebalanceRequested,
    RunCompleted,
)
from rebal_schemas.topics import (
    MARKET_PRICES,
    MODEL_UPDATED,
    OPTIMIZATION_CREATED,
    OPTIMIZATION_DECIDED,
    OPTIMIZATION_READY,
    OPTIMIZATION_SUBMITTED,
    PORTFOLIO_PATCHED,
    REBALANCE_REQUESTED,
    RUN_COMPLETED,
)


def build_router(settings: RuntimeSettings, handlers: OptimizerHandlers) -> KafkaRouter:
    router = KafkaRouter()
    options = subscriber_options(settings)
    # The two topics a nightly batch or a burst of fundings floods: handled and committed in
    # batches (one store write and one offset commit per batch; see rebal_runtime.consume).
    batch_options = batch_subscriber_options(settings)

    # FastStream's decorator is untyped; the handlers below are fully typed.
    @router.subscriber(  # type: ignore[untyped-decorator]
        PORTFOLIO_PATCHED.name,
        title="portfolio.patched:optimizer",
        description="Settings create/patch a portfolio; holdings, deposits and withdrawal "
        "requests update it; each is evaluated with its trigger. Consumed in batches.",
        **batch_options,
    )
    async def on_portfolio_patched(events: list[PortfolioPatched]) -> None:
        await handlers.portfolio_patched_batch(events)

    @router.subscriber(  # type: ignore[untyped-decorator]
        MODEL_UPDATED.name,
        title="model.updated:optimizer",
        description="Stores the model; a change of weights or conditions re-evaluates its "
        "subscribers.",
        **options,
    )
    async def on_model_updated(event: ModelUpdated) -> None:
        await handlers.model_updated(event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        MARKET_PRICES.name,
        title="market.prices:optimizer",
        description="Keeps the last price of each symbol (by as_of).",
        **options,
    )
    async def on_price(event: PriceUpdated) -> None:
        await handlers.price_updated(event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        REBALANCE_REQUESTED.name,
        title="rebalance.requested:optimizer",
        description="Scope portfolio: evaluate it. Scope model/all: fan out one scope-portfolio "
        "request per portfolio. Consumed in batches.",
        **batch_options,
    )
    async def on_rebalance_requested(events: list[RebalanceRequested]) -> None:
        await handlers.rebalance_requested_batch(events)

    @router.subscriber(  # type: ignore[untyped-decorator]
        OPTIMIZATION_SUBMITTED.name,
        title="optimization.submitted:optimizer",
        description="An external optimizer's orders, validated against holdings, cash and prices.",
        **options,
    )
    async def on_submitted(event: OptimizationSubmitted) -> None:
        await handlers.optimization_submitted(event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        OPTIMIZATION_DECIDED.name,
        title="optimization.decided:optimizer",
        description="The owner's ACCEPT, REJECT or REOPTIMIZE of an advisory optimization.",
        **options,
    )
    async def on_decided(event: OptimizationDecided) -> None:
        await handlers.optimization_decided(event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        RUN_COMPLETED.name,
        title="run.completed:optimizer",
        description="Unblocks the portfolio; PLATFORM integration applies the executed trades.",
        **options,
    )
    async def on_run_completed(event: RunCompleted) -> None:
        await handlers.run_completed(event)

    document_publishers(
        router, OPTIMIZATION_CREATED.name, OPTIMIZATION_READY.name, REBALANCE_REQUESTED.name
    )
    return router
