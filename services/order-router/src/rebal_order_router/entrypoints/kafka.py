"""Kafka entry point: optimization.ready, run.cancel_requested, model.status_changed and
market.prices in; order.filled / order.closed / run.execution go out via the outbox."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_order_router.service_layer.cancel import on_cancel_requested
from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.intake import on_optimization_ready_batch
from rebal_order_router.service_layer.queue import on_model_status_changed, on_price_updated
from rebal_runtime.broker import document_publishers, subscriptions
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
    subscribe = subscriptions(router, settings)

    @subscribe(
        OPTIMIZATION_READY,
        "Stores the orders of a PLATFORM-integrated run (each with its deterministic "
        "client_order_id) and wakes the dispatcher inside the execution window; outside it the "
        "run is QUEUED (run.execution_queued with the next opening). CLIENT-integrated runs are "
        "ignored. Consumed in batches.",
        batch=True,
    )
    async def on_ready(events: list[OptimizationReady]) -> None:
        # One offset commit and two reads of the kept cancels per batch; each run is still
        # stored on its own (a retried batch ignores those stored before as redeliveries).
        await on_optimization_ready_batch(ctx, events)

    @subscribe(
        RUN_CANCEL_REQUESTED,
        "Cancels a run the router executes: before any order left it stops as "
        "canceled; after, its open orders are cancelled at the broker, its unsent legs closed "
        "as canceled and it stops as canceled_mid_run (run.execution_stopped); the order.closed "
        "the cancel brings carry run_canceled. A run it does not know yet is kept as a pending "
        "cancel until its optimization.ready, which then stores it already stopped as canceled "
        "(a cancel whose ready never comes expires). Runs of another portfolio, or with every "
        "order final, are ignored (the settlement-tracker answers).",
    )
    async def on_cancel(event: RunCancelRequested) -> None:
        await on_cancel_requested(ctx, event)

    @subscribe(
        MODEL_STATUS_CHANGED,
        "A model that became needs_adjustment cancels the QUEUED runs trading one of "
        "its symbols (run.execution_stopped canceled, naming the model and the symbols).",
    )
    async def on_model_status(event: ModelStatusChanged) -> None:
        await on_model_status_changed(ctx, event)

    @subscribe(
        MARKET_PRICES,
        "Keeps the last price of each symbol (by as_of): a QUEUED run's planned "
        "prices are checked against it when it starts (a move beyond the tolerance: replan).",
    )
    async def on_price(event: PriceUpdated) -> None:
        await on_price_updated(ctx, event)

    document_publishers(router, ORDER_FILLED.name, ORDER_CLOSED.name, RUN_EXECUTION.name)
    return router
