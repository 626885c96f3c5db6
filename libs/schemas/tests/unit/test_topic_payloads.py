"""Each topic is built from the public payload type its handlers are annotated with."""

from __future__ import annotations

from typing import Annotated, get_args, get_origin

import pytest

import rebal_schemas as s
from rebal_schemas.topics import ALL_TOPICS, TOPICS, Topic, event_classes

# The public type each topic carries: the handlers' annotation and the AsyncAPI payload.
PAYLOADS: dict[str, object] = {
    "portfolio.patched": s.PortfolioPatched,
    "model.updated": s.ModelUpdated,
    "market.prices": s.PriceUpdated,
    "rebalance.requested": s.RebalanceRequested,
    "optimization.submitted": s.OptimizationSubmitted,
    "optimization.created": s.OptimizationCreatedTopic,
    "optimization.decided": s.OptimizationDecided,
    "optimization.ready": s.OptimizationReady,
    "order.filled": s.OrderFilled,
    "order.closed": s.OrderClosed,
    "run.cancel_requested": s.RunCancelRequested,
    "run.execution": s.RunExecutionTopic,
    "run.status_changed": s.RunStatusTopic,
    "transaction.settled": s.TransactionSettled,
    "run.completed": s.RunCompleted,
    "run.settled": s.RunSettled,
    "model.status_changed": s.ModelStatusChanged,
    "request.rejected": s.RequestRejected,
    "dead.letter": s.MessageDeadLettered,
}


def test_every_topic_has_a_public_payload_type() -> None:
    assert set(PAYLOADS) == set(TOPICS)


@pytest.mark.parametrize("topic", ALL_TOPICS, ids=[t.name for t in ALL_TOPICS])
def test_topic_holds_its_public_payload_type(topic: Topic) -> None:
    assert topic.payload_type is PAYLOADS[topic.name]
    assert all(topic.name == event.TOPIC for event in topic.events)


@pytest.mark.parametrize(
    "payload",
    [s.PortfolioPatched, s.OptimizationCreatedTopic, s.RunStatusTopic, s.RunExecutionTopic],
)
def test_a_multi_event_payload_is_a_discriminated_union(payload: object) -> None:
    assert get_origin(payload) is Annotated
    _, field = get_args(payload)
    assert field.discriminator == "event_type"
    assert len(event_classes(payload)) > 1


def test_the_union_members_are_the_topics_events() -> None:
    assert TOPICS["portfolio.patched"].events == (
        s.PortfolioSettingsChanged,
        s.HoldingsReported,
        s.CashDeposited,
        s.WithdrawalRequested,
    )
    assert TOPICS["optimization.created"].events == (
        s.OptimizationCreated,
        s.OptimizationStatusChanged,
    )


@pytest.mark.parametrize("bad", [int, int | str, Annotated[int, "x"], s.Weight])
def test_a_topic_carries_only_event_models(bad: object) -> None:
    with pytest.raises(TypeError):
        event_classes(bad)
