"""Every refused Kafka request is answered on `request.rejected`, over the whole stack, with the
refused event's id in `causation_id` and the rule in `reason_code`:

- a subscription to a model that never arrives (MODEL_UNKNOWN, after the model wait);
- a subscription to a model that arrived inactive (MODEL_INACTIVE);
- a second active subscription for the same account (ALREADY_SUBSCRIBED);
- retiring a model that has an active subscriber (MODEL_IN_USE), after which it stays usable;
- ACCEPT of an advisory optimization that expired (OPTIMIZATION_EXPIRED), with no run made.

A manual run with its own weights while subscribed is in test_model_governance.py, the cancel of
a final run in test_cancel_race.py. The optimizer runs with a short model wait and advisory
expiry, so the deadlines pass within the test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from rebal_client.kafka import Publisher, wait_until_consumed
from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.testing.pytest_plugin import unique
from rebal_schemas import (
    BrokerIntegration,
    HoldingsReported,
    Mandate,
    ModelStatus,
    ModelUpdated,
    OptimizationCreated,
    OptimizationDecided,
    OptimizationStatus,
    OptimizationStatusChanged,
    OptimizerMode,
    OwnerChoice,
    PortfolioSettingsChanged,
    PriceUpdated,
    RejectionCode,
    RequestRejected,
    Weight,
)

from .conftest import logs, running_stack
from .test_model_governance import first, mine

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

SHORT_DEADLINES = {
    "REBAL_MODEL_WAIT_SECONDS": "2",
    "REBAL_ADVISORY_EXPIRY_SECONDS": "3",
    "REBAL_EXPIRY_SWEEP_SECONDS": "0.5",
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory, request, "refusals", service_overrides={"optimizer": SHORT_DEADLINES}
    ) as running:
        yield running


def subscribe(
    portfolio_id: str, model_id: str, account_id: str | None = None, *, advisory: bool = False
) -> PortfolioSettingsChanged:
    return PortfolioSettingsChanged(
        portfolio_id=portfolio_id,
        account_id=account_id or f"acct-{portfolio_id}",
        mandate=Mandate.ADVISORY if advisory else Mandate.DISCRETIONARY,
        broker_integration=BrokerIntegration.PLATFORM,
        optimizer=OptimizerMode.PLATFORM,
        model_id=model_id,
    )


def all_spy(model_id: str, status: ModelStatus = ModelStatus.active) -> ModelUpdated:
    weights = (Weight(type="asset", symbol="SPY", percent=Decimal(100)),)
    return ModelUpdated(model_id=model_id, name="All SPY", weights=weights, status=status)


async def refusal_of(rejections: TopicReader, request: Any) -> RequestRejected:
    return await first(rejections, RequestRejected, causation_id=request.event_id)


def test_every_refused_request_is_answered_with_its_rule(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    active, inactive, missing = unique("model"), unique("model"), unique("model")
    now = datetime.now(UTC)

    async def scenario() -> None:
        async with (
            Publisher(bootstrap) as publisher,
            TopicReader(bootstrap, "request.rejected") as rejections,
            TopicReader(bootstrap, "optimization.created") as optimizations,
        ):
            models = await publisher.publish_tracked(
                [
                    PriceUpdated(symbol="SPY", price=Decimal("400"), as_of=now),
                    all_spy(active),
                    all_spy(inactive, ModelStatus.inactive),
                ]
            )
            await wait_until_consumed(bootstrap, "optimizer", models, 60)

            to_missing = subscribe(unique("pf"), missing)
            to_inactive = subscribe(unique("pf"), inactive)
            shared_account = unique("acct")
            first_of_account = subscribe(unique("pf"), active, shared_account)
            await publisher.publish_tracked([to_missing, to_inactive, first_of_account])
            second_of_account = subscribe(unique("pf"), active, shared_account)
            await publisher.publish(second_of_account)

            refused = await refusal_of(rejections, to_inactive)
            assert refused.reason_code is RejectionCode.MODEL_INACTIVE
            assert (refused.portfolio_id, refused.model_id) == (to_inactive.portfolio_id, inactive)
            refused = await refusal_of(rejections, second_of_account)
            assert refused.reason_code is RejectionCode.ALREADY_SUBSCRIBED
            assert refused.portfolio_id == second_of_account.portfolio_id
            refused = await refusal_of(rejections, to_missing)
            assert refused.reason_code is RejectionCode.MODEL_UNKNOWN
            assert refused.portfolio_id == to_missing.portfolio_id

            # Retiring the model its subscriber still follows is refused; it stays active.
            retire = all_spy(active, ModelStatus.inactive)
            await publisher.publish(retire)
            refused = await refusal_of(rejections, retire)
            assert refused.reason_code is RejectionCode.MODEL_IN_USE
            assert refused.model_id == active
            assert not mine(
                rejections.events(), RequestRejected, causation_id=first_of_account.event_id
            )

            # An advisory proposal left past its expiry: a late ACCEPT is refused.
            owner = subscribe(unique("pf"), active, advisory=True)
            await publisher.publish_tracked(
                [
                    owner,
                    HoldingsReported(
                        portfolio_id=owner.portfolio_id, cash=Decimal("1000.00"), as_of=now
                    ),
                ]
            )
            proposal = await first(
                optimizations,
                OptimizationCreated,
                portfolio_id=owner.portfolio_id,
                status=OptimizationStatus.AWAITING_OWNER,
            )
            await first(
                optimizations,
                OptimizationStatusChanged,
                optimization_id=proposal.optimization_id,
                status=OptimizationStatus.EXPIRED,
            )
            accept = OptimizationDecided(
                optimization_id=proposal.optimization_id,
                portfolio_id=owner.portfolio_id,
                owner_choice=OwnerChoice.ACCEPT,
            )
            await publisher.publish(accept)
            refused = await refusal_of(rejections, accept)
            assert refused.reason_code is RejectionCode.OPTIMIZATION_EXPIRED
            assert refused.portfolio_id == owner.portfolio_id

    try:
        asyncio.run(scenario())
    except (AssertionError, TimeoutError) as error:
        raise AssertionError(f"{error}\n{logs(stack)}") from error
