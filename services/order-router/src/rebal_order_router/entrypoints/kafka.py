"""Kafka entry point: optimization.ready, run.cancel_requested, model.status_changed and
market.prices in; order.filled / order.closed / run.execution go out via the outbox."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_order_router.service_layer.queue import on_model_status_changed, on_price_updated
from rebal_runtime.broker import document_publishers, subscriber_options
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import ModelStatusChanged, OptimizationReady, PriceUpdated, RunCancelRequested
from rebal_schemas.topics import (
    MARKET_PRICES,
    MODEL_STATUS_CHANGED,
    OPTIMIZATION_READY,
    ORDER_CLOSED,
    ORDER_FILLED,
    RUN_CANCEL_REQUESTED,
    RUN_EXECUTION,
)


def build_router(settings: RuntimeSettings, ctx: RouterContext) -> KafkaRouter:
    router = KafkaRouter()
    options = subscriber_options(settings)

    # FastStream's decorator is untyped; the handlers below are fully typed.
    @router.subscriber(  # type: ignore[untyped-decorator]
        OPTIMIZATION_READY.name,
        title="optimization.ready:order-router",
        description="Stores the orders of a PLATFORM-integrated run (each with its deterministic "
        "client_order_id) and wakes the dispatcher inside the execution window; outside it the "
        "run is QUEUED (run.execution_queued with the next opening). CLIENT-integrated runs are "
        "ignored.",
        **options,
    )
    async def on_ready(event: OptimizationReady) -> None:
        await on_optimization_ready(ctx, event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        RUN_CANCEL_REQUESTED.name,
        title="run.cancel_requested:order-router",
        description="Cancels a run the router executes: before any order left it stops as "
        "canceled; after, its open orders are cancelled at the broker, its unsent legs closed "
        "as canceled and it stops as canceled_mid_run (run.execution_stopped). Runs it does not "
        "know, or with every order final, are ignored (the settlement-tracker answers).",
        **options,
    )
    async def on_cancel(event: RunCancelRequested) -> None:
        await on_cancel_requested(ctx, event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        MODEL_STATUS_CHANGED.name,
        title="model.status_changed:order-router",
        description="A model that became needs_adjustment cancels the QUEUED runs trading one of "
        "its symbols (run.execution_stopped canceled, naming the model and the symbols).",
        **options,
    )
    async def on_model_status(event: ModelStatusChanged) -> None:
        await on_model_status_changed(ctx, event)

    @router.subscriber(  # type: ignore[untyped-decorator]
        MARKET_PRICES.name,
        title="market.prices:order-router",
        description="Keeps the last price of each symbol (by as_of): a QUEUED run's planned "
        "prices are checked against it when it starts (a move beyond the tolerance: replan).",
        **options,
    )
    async def on_price(event: PriceUpdated) -> None:
        await on_price_updated(ctx, event)

    document_publishers(router, ORDER_FILLED.name, ORDER_CLOSED.name, RUN_EXECUTION.name)
    return router
