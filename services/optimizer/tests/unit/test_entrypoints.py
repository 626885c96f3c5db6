"""Wiring: the AsyncAPI app documents what the optimizer consumes and publishes without
connecting anywhere; the expiry loop sweeps on its clock and survives a failing round."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from rebal_optimizer.bootstrap import bootstrap, config_of
from rebal_optimizer.entrypoints.app import asyncapi_app
from rebal_optimizer.entrypoints.expiry_loop import ExpiryLoop
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.clock import FakeClock

from .conftest import NOW


def test_asyncapi_document_lists_every_topic_in_and_out() -> None:
    spec = asyncapi_app(OptimizerSettings(store_url="memory://")).schema.to_specification()
    channels = set(spec.to_jsonable()["channels"])
    consumed = {
        "portfolio.patched",
        "model.updated",
        "market.prices",
        "rebalance.requested",
        "optimization.submitted",
        "optimization.decided",
        "run.completed",
        "run.settled",
    }
    published = {"optimization.created", "optimization.ready", "rebalance.requested"}
    # a topic's own consumer is `<topic>:optimizer`; one of several topics `<topic>:<handler>`
    read = {c.split(":")[0] for c in channels if not c.endswith(":publish")}
    assert consumed | {"transaction.settled"} <= read
    assert "run.completed:OnRunOutcomes" in channels
    assert {f"{t}:publish" for t in published} <= channels


def test_bootstrap_connects_nothing_and_loads_no_calendar_yet() -> None:
    optimizer = bootstrap(OptimizerSettings(store_url="memory://"))
    calendar = optimizer.handlers.evaluator.calendar
    assert isinstance(calendar, ExchangeCalendar) and not calendar.loaded
    assert not optimizer.runtime.started
    assert optimizer.settings.service_name == "optimizer"


def test_run_outcome_settings_reach_the_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    default = config_of(OptimizerSettings(store_url="memory://"))
    assert default.unblock_on == "settlement" and default.client_holdings_wait == timedelta(days=1)
    monkeypatch.setenv("REBAL_UNBLOCK_ON", "execution")
    monkeypatch.setenv("REBAL_CLIENT_HOLDINGS_WAIT_SECONDS", "3600")
    config = config_of(OptimizerSettings(store_url="memory://"))
    assert config.unblock_on == "execution" and config.client_holdings_wait == timedelta(hours=1)
    monkeypatch.setenv("REBAL_UNBLOCK_ON", "whenever")
    with pytest.raises(ValidationError, match="unblock_on"):
        OptimizerSettings(store_url="memory://")


async def test_expiry_loop_sweeps_when_the_clock_moves_and_survives_failures() -> None:
    clock = FakeClock(NOW)
    swept: list[datetime] = []

    async def sweep(now: datetime) -> int:
        swept.append(now)
        if len(swept) == 2:
            raise ConnectionError("store down for one round")
        return 1

    loop = ExpiryLoop(sweep, clock, every_seconds=3600)
    await loop.start()
    for _ in range(3):
        await asyncio.sleep(0.01)
        clock.advance(timedelta(hours=1))
    for _ in range(100):
        if len(swept) >= 4:
            break
        await asyncio.sleep(0.01)
    await loop.stop()
    assert swept[:4] == [NOW + timedelta(hours=n) for n in range(4)]
    assert loop.expired == len(swept) - 1  # the failed round counted nothing
    assert loop.last_swept == swept[-1]
