"""The running optimizer over the real embedded Kafka, when the broker watchdog reports lost
records: a blocked portfolio's optimization.ready lands on the topic again, byte for byte."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from rebal_schemas import (
    HoldingsReported,
    ModelUpdated,
    OptimizationReady,
    PortfolioSettingsChanged,
    PriceUpdated,
)

from .conftest import Harness, unique, weights

pytestmark = pytest.mark.kafka


async def test_a_blocked_portfolio_publishes_the_same_ready_again(harness: Harness) -> None:
    h, u = harness, unique()
    pid, mid, a, b = f"p-{u}", f"m-{u}", f"A{u}", f"B{u}"
    now = h.clock.now()
    await h.send(
        PriceUpdated(symbol=a, price=D(100), as_of=now),
        PriceUpdated(symbol=b, price=D(50), as_of=now),
        ModelUpdated(model_id=mid, name="m", weights=weights(**{a: "60", b: "35", "cash": "5"})),
    )
    await h.send(
        PortfolioSettingsChanged(portfolio_id=pid, model_id=mid),
        HoldingsReported(portfolio_id=pid, cash=D(10000), as_of=now),
    )

    def readies(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == pid.encode()]

    (first,) = readies(await h.ready.wait_for(lambda rs: len(readies(rs)) >= 1, decoded=False))
    event = OptimizationReady.model_validate_json(first.value)
    assert (await h.record(pid)).portfolio.blocked_by == event.optimization_id

    for hook in h.optimizer.runtime.watchdog.on_data_lost:
        await hook("test: the broker lost records")
    records = await h.ready.wait_for(lambda rs: len(readies(rs)) >= 2, decoded=False)
    again = readies(records)[1]
    assert (again.key, again.value) == (first.key, first.value)
    assert dict(again.headers)["event_id"] == event.event_id.encode()
