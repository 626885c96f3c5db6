"""Kafka entry points: thin subscribers that hand each typed event to its handler.

Errors are not caught here: the runtime's consume policy turns PoisonMessage and schema errors
into dead letters and retries transient failures (see `rebal_runtime.consume`).

Fills, closes and run.execution reports also get their record's provenance: FastStream hands a handler the message it
is handling (`KafkaMessage`, a context parameter, not part of the payload schema), whose raw
record carries the headers the producer's signature travels in.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from rebal_runtime.broker import document_publishers, subscriber_options
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.signing import trusted_keys
from rebal_schemas import (
    OptimizationReady,
    OrderClosed,
    OrderFilled,
    RunCancelRequested,
    RunExecutionTopic,
)
from rebal_schemas.topics import (
    OPTIMIZATION_READY,
    ORDER_CLOSED,
    ORDER_FILLED,
    REQUEST_REJECTED,
    RUN_CANCEL_REQUESTED,
    RUN_COMPLETED,
    RUN_EXECUTION,
    RUN_SETTLED,
    RUN_STATUS_CHANGED,
    TRANSACTION_SETTLED,
)
from rebal_settlement_tracker.entrypoints.provenance import provenance_of
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers

PUBLISHED_TOPICS = tuple(
    topic.name
    for topic in (
        RUN_STATUS_CHANGED,
        TRANSACTION_SETTLED,
        RUN_COMPLETED,
        RUN_SETTLED,
        REQUEST_REJECTED,
    )
)


def build_router(settings: RuntimeSettings, handlers: SettlementHandlers) -> KafkaRouter:
    router = KafkaRouter()
    options = subscriber_options(settings)
    trusted = trusted_keys(settings)
    group = settings.service_name

    async def on_optimization_ready(event: OptimizationReady) -> None:
        await handlers.optimization_ready(event)

    async def on_order_filled(event: OrderFilled, message: KafkaMessage) -> None:
        await handlers.order_filled(event, provenance_of(message, trusted, group))

    async def on_order_closed(event: OrderClosed, message: KafkaMessage) -> None:
        await handlers.order_closed(event, provenance_of(message, trusted, group))

    async def on_run_cancel_requested(event: RunCancelRequested) -> None:
        await handlers.run_cancel_requested(event)

    async def on_run_execution(event: RunExecutionTopic, message: KafkaMessage) -> None:
        await handlers.run_execution(event, provenance_of(message, trusted, group))

    # Registered by call rather than as decorators: FastStream's decorator is untyped for mypy,
    # and a decorator would erase the handlers' signatures.
    router.subscriber(OPTIMIZATION_READY.name, **options)(on_optimization_ready)
    router.subscriber(ORDER_FILLED.name, **options)(on_order_filled)
    router.subscriber(ORDER_CLOSED.name, **options)(on_order_closed)
    router.subscriber(RUN_CANCEL_REQUESTED.name, **options)(on_run_cancel_requested)
    router.subscriber(RUN_EXECUTION.name, **options)(on_run_execution)

    document_publishers(router, *PUBLISHED_TOPICS)
    return router
