"""Kafka entry points: thin subscribers that hand typed events to their handlers.

Errors are not caught here: the runtime's consume policy turns PoisonMessage and schema errors
into dead letters and retries transient failures (see `rebal_runtime.consume`).

The hot topics (optimization.ready, order.filled, order.closed, run.execution: several messages
per run) are read by ONE batch consumer: one fetch loop and group member instead of four, one
store read and write and one offset commit per batch, the consume policy keeping each message's
fate (a bad one is dead-lettered alone). A batch mixes the topics in the order they came: each
partition's order is kept, and across topics the tracker never relied on an order (a fill may
come before its plan, and is kept until it does). Fills, closes and run.execution reports also
get each record's provenance: the consume policy tells the handler the records behind its
events (`handled_records`), whose headers carry the producer's signature.
"""

from __future__ import annotations

from typing import Annotated, TypeAlias

from faststream.kafka import KafkaRouter
from pydantic import Field

from rebal_runtime.broker import document_publishers, subscriptions
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.signing import trusted_keys
from rebal_schemas import (
    OptimizationReady,
    OrderClosed,
    OrderFilled,
    RunCancelRequested,
    RunExecutionQueued,
    RunExecutionStarted,
    RunExecutionStopped,
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

RunFactEvent: TypeAlias = Annotated[
    OptimizationReady
    | RunExecutionStarted
    | RunExecutionQueued
    | RunExecutionStopped
    | OrderFilled
    | OrderClosed,
    Field(discriminator="event_type"),
]
"""Every event of the four topics of a run's facts."""

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
        (OPTIMIZATION_READY, RUN_EXECUTION, ORDER_FILLED, ORDER_CLOSED),
        "The facts of a run, in one consumer of its four topics, in batches. "
        "optimization.ready: plans the run of a READY optimization (its orders as transactions, "
        "PLANNED) and publishes run.created; a cancel read before it is applied now. "
        "run.execution: the order-router's execution of a PLATFORM run (signed): queued (QUEUED "
        "until the window opens), started (IN_PROGRESS), stopped (canceled, canceled mid-run, "
        "re-plan). order.filled: an execution of a run's order (cumulative), checked against the "
        "order's leg, quantity, notional and planned price, and for PLATFORM runs the "
        "order-router's signature; the transaction becomes EXECUTED; a fill after the run ended "
        "is recorded as a late increment (transaction.settled late). order.closed: an order "
        "ended without a (full) fill; when every order is final the run completes (run.completed "
        "with Alpaca's run object); a close its run's cancel caused (`run_canceled`) waits for "
        "the order-router's run.execution_stopped. Refused facts are dead-lettered with the "
        "reason.",
        batch=True,
    )
    async def on_run_facts(events: list[RunFactEvent]) -> None:
        provenances = handled_provenances(events, trusted, group, unsigned=(OptimizationReady,))
        await handlers.record_batch(events, provenances)

    @subscribe(
        RUN_CANCEL_REQUESTED,
        "A client's cancel: a CLIENT run is canceled here; a PLATFORM run's is the "
        "order-router's (recorded here, answered at the run's end). A cancel of a final run is "
        "refused (request.rejected RUN_FINAL); one of a run not read yet is kept and refused "
        "RUN_UNKNOWN only when its wait ends.",
    )
    async def on_run_cancel_requested(event: RunCancelRequested) -> None:
        await handlers.run_cancel_requested(event)

    document_publishers(router, *PUBLISHED_TOPICS)
    return router
