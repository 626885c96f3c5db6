"""Kafka entry point: optimization.ready in; order.filled / order.closed go out via the outbox."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_order_router.service_layer.context import RouterContext
from rebal_order_router.service_layer.intake import on_optimization_ready
from rebal_runtime.broker import document_publishers, subscriber_options
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import OptimizationReady
from rebal_schemas.topics import OPTIMIZATION_READY, ORDER_CLOSED, ORDER_FILLED


def build_router(settings: RuntimeSettings, ctx: RouterContext) -> KafkaRouter:
    router = KafkaRouter()

    # FastStream's decorator is untyped; the handler below is fully typed.
    @router.subscriber(  # type: ignore[untyped-decorator]
        OPTIMIZATION_READY.name,
        title="optimization.ready:order-router",
        description="Stores the orders of a PLATFORM-integrated run (each with its deterministic "
        "client_order_id) and wakes the dispatcher; CLIENT-integrated runs are ignored.",
        **subscriber_options(settings),
    )
    async def on_ready(event: OptimizationReady) -> None:
        await on_optimization_ready(ctx, event)

    document_publishers(router, ORDER_FILLED.name, ORDER_CLOSED.name)
    return router
