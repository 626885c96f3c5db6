"""Kafka entry point: model.updated in; rebalance.requested goes out through the outbox."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_runtime.broker import document_publishers, subscriber_options
from rebal_runtime.settings import RuntimeSettings
from rebal_scheduler.service_layer.handlers import SchedulerHandlers
from rebal_schemas import ModelUpdated
from rebal_schemas.topics import MODEL_UPDATED, REBALANCE_REQUESTED


def build_router(settings: RuntimeSettings, handlers: SchedulerHandlers) -> KafkaRouter:
    router = KafkaRouter()

    # FastStream's decorator is untyped; the handler below is fully typed.
    @router.subscriber(  # type: ignore[untyped-decorator]
        MODEL_UPDATED.name,
        title="model.updated:scheduler",
        description="Schedules, reschedules or unschedules a model's calendar condition.",
        **subscriber_options(settings),
    )
    async def on_model_updated(event: ModelUpdated) -> None:
        await handlers.on_model_updated(event)

    document_publishers(router, REBALANCE_REQUESTED.name)
    return router
