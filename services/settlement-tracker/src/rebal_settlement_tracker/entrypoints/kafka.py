"""Kafka entry points: thin subscribers that hand typed events to their handlers.

Errors are not caught here: the runtime's consume policy turns PoisonMessage and schema errors
into dead letters and retries transient failures (see `rebal_runtime.consume`).

The hot topics (optimization.ready, order.filled, order.closed, run.execution: several messages
per run) are consumed in batches: one store read and write and one offset commit per batch, the
consume policy keeping each message's fate (a bad one is dead-lettered alone). Fills, closes and
run.execution reports also get each record's provenance: the consume policy tells the handler
the records behind its events (`handled_records`), whose headers carry the producer's signature.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter

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
from rebal_settlement_tracker.entrypoints.provenance import handled_provenances
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
        "publishes run.created; a cancel read before it is applied now. Consumed in batches.",
        batch=True,
    )
    async def on_optimization_ready(events: list[OptimizationReady]) -> None:
        await handlers.optimization_ready_batch(events)

    @subscribe(
        ORDER_FILLED,
        "An execution of a run's order (cumulative): checked against the order's leg, quantity, "
        "notional and planned price, and for PLATFORM runs the order-router's signature; the "
        "transaction becomes EXECUTED. A fill after the run ended is recorded as a late increment "
        "(transaction.settled late). Refused fills are dead-lettered with the reason. Consumed "
        "in batches.",
        batch=True,
    )
    async def on_order_filled(events: list[OrderFilled]) -> None:
        await handlers.order_filled_batch(events, handled_provenances(len(events), trusted, group))

    @subscribe(
        ORDER_CLOSED,
        "An order ended without a (full) fill. When every order is final the run completes "
        "(run.completed with Alpaca's run object); a close its run's cancel caused "
        "(`run_canceled`) waits for the order-router's run.execution_stopped. Consumed in batches.",
        batch=True,
    )
    async def on_order_closed(events: list[OrderClosed]) -> None:
        await handlers.order_closed_batch(events, handled_provenances(len(events), trusted, group))

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
        "window opens), started (IN_PROGRESS), stopped (canceled, canceled mid-run, re-plan). "
        "Consumed in batches.",
        batch=True,
    )
    async def on_run_execution(events: list[RunExecutionTopic]) -> None:
        provenances = handled_provenances(len(events), trusted, group)
        await handlers.run_execution_batch(events, provenances)

    document_publishers(router, *PUBLISHED_TOPICS)
    return router
