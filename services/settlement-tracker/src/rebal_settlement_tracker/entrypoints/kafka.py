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

from rebal_runtime.broker import document_publishers, subscriptions
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
    subscribe = subscriptions(router, settings)
    trusted = trusted_keys(settings)
    group = settings.service_name

    @subscribe(
        OPTIMIZATION_READY,
        "Plans the run of a READY optimization (its orders as transactions, PLANNED) and "
        "publishes run.created; a cancel read before it is applied now.",
    )
    async def on_optimization_ready(event: OptimizationReady) -> None:
        await handlers.optimization_ready(event)

    @subscribe(
        ORDER_FILLED,
        "An execution of a run's order (cumulative): checked against the order's leg, quantity, "
        "notional and planned price, and for PLATFORM runs the order-router's signature; the "
        "transaction becomes EXECUTED. A fill after the run ended is recorded as a late increment "
        "(transaction.settled late). Refused fills are dead-lettered with the reason.",
    )
    async def on_order_filled(event: OrderFilled, message: KafkaMessage) -> None:
        await handlers.order_filled(event, provenance_of(message, trusted, group))

    @subscribe(
        ORDER_CLOSED,
        "An order ended without a (full) fill. When every order is final the run completes "
        "(run.completed with Alpaca's run object); a close its run's cancel caused "
        "(`run_canceled`) waits for the order-router's run.execution_stopped.",
    )
    async def on_order_closed(event: OrderClosed, message: KafkaMessage) -> None:
        await handlers.order_closed(event, provenance_of(message, trusted, group))

    @subscribe(
        RUN_CANCEL_REQUESTED,
        "A client's cancel: a CLIENT run is canceled here; a PLATFORM run's is the "
        "order-router's (recorded here, answered at the run's end). A cancel of a final run is "
        "refused (request.rejected RUN_FINAL); one of a run not read yet is kept and refused "
        "RUN_UNKNOWN only when its wait ends.",
    )
    async def on_run_cancel_requested(event: RunCancelRequested) -> None:
        await handlers.run_cancel_requested(event)

    @subscribe(
        RUN_EXECUTION,
        "The order-router's execution of a PLATFORM run (signed): queued (QUEUED until the "
        "window opens), started (IN_PROGRESS), stopped (canceled, canceled mid-run, re-plan).",
    )
    async def on_run_execution(event: RunExecutionTopic, message: KafkaMessage) -> None:
        await handlers.run_execution(event, provenance_of(message, trusted, group))

    document_publishers(router, *PUBLISHED_TOPICS)
    return router
