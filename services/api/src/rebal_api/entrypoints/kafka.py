"""Kafka entry point: the topics the projection reads, in ONE batch subscriber (one consumer,
one group join: twelve consumers of one group would rebalance the group twelve times at every
start); the api's writes go out through the outbox (declared here for the AsyncAPI document).

A batch holds records of several topics; the projection applies them in the order they came,
which keeps every partition's order. `rebalance.requested` is read for the api's own manual-run
requests only (their projection, should the api have crashed before applying them itself)."""

from __future__ import annotations

from typing import Annotated, TypeAlias

from faststream.kafka import KafkaRouter
from pydantic import Field

import rebal_schemas as wire
from rebal_api.service_layer.projector import Projector
from rebal_runtime.broker import document_publishers, subscriptions
from rebal_runtime.settings import RuntimeSettings
from rebal_schemas import topics

READS = (
    topics.MODEL_UPDATED,
    topics.MODEL_STATUS_CHANGED,
    topics.PORTFOLIO_PATCHED,
    topics.REBALANCE_REQUESTED,
    topics.OPTIMIZATION_CREATED,
    topics.OPTIMIZATION_READY,
    topics.RUN_STATUS_CHANGED,
    topics.RUN_COMPLETED,
    topics.RUN_SETTLED,
    topics.TRANSACTION_SETTLED,
    topics.RUN_CANCEL_REQUESTED,
    topics.REQUEST_REJECTED,
    topics.DEAD_LETTER,
)
PUBLISHES = (
    topics.MODEL_UPDATED.name,
    topics.PORTFOLIO_PATCHED.name,
    topics.REBALANCE_REQUESTED.name,
    topics.OPTIMIZATION_DECIDED.name,
    topics.RUN_CANCEL_REQUESTED.name,
)

Projected: TypeAlias = Annotated[
    wire.ModelUpdated
    | wire.ModelStatusChanged
    | wire.PortfolioSettingsChanged
    | wire.HoldingsReported
    | wire.CashDeposited
    | wire.WithdrawalRequested
    | wire.RebalanceRequested
    | wire.OptimizationCreated
    | wire.OptimizationStatusChanged
    | wire.OptimizationReady
    | wire.RunCreated
    | wire.RunStatusChanged
    | wire.RunCompleted
    | wire.RunSettled
    | wire.TransactionSettled
    | wire.RunCancelRequested
    | wire.RequestRejected
    | wire.MessageDeadLettered,
    Field(discriminator="event_type"),
]
"""Every event of the topics the api reads."""


def build_router(settings: RuntimeSettings, projector: Projector) -> KafkaRouter:
    router = KafkaRouter()
    subscribe = subscriptions(router, settings)

    @subscribe(
        READS,
        "The api's read model: models, accounts and subscriptions, runs, the "
        "rebalancer stream, the dashboard's dead letters.",
        batch=True,
    )
    async def projection(events: list[Projected]) -> None:
        await projector.project(events)

    document_publishers(router, *PUBLISHES)
    return router
