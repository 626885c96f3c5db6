"""Kafka entry point: model.updated in; rebalance.requested goes out through the outbox."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from rebal_runtime.broker import document_publishers, subscriptions
from rebal_runtime.settings import RuntimeSettings
from rebal_scheduler.service_layer.handlers import SchedulerHandlers
from rebal_schemas import ModelUpdated
from rebal_schemas.topics import MODEL_UPDATED, REBALANCE_REQUESTED


def build_router(settings: RuntimeSettings, handlers: SchedulerHandlers) -> KafkaRouter:
    router = KafkaRouter()
    subscribe = subscriptions(router, settings)

    @subscribe(MODEL_UPDATED, "Schedules, reschedules or unschedules a model's calendar condition.")
    async def on_model_updated(event: ModelUpdated) -> None:
        await handlers.on_model_updated(event)

    document_publishers(router, REBALANCE_REQUESTED.name)
    return router
