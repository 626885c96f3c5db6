"""A handler harness: the hand-written InMemoryStore, a fake clock and the real XNYS calendar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from rebal_runtime.calendar import ExchangeCalendar
from rebal_runtime.clock import FakeClock
from rebal_runtime.store import InMemoryStore
from rebal_schemas import (
    Event,
    RequestRejected,
    RunCompleted,
    RunCreated,
    RunSettled,
    RunStatusChanged,
    TransactionSettled,
    decode,
)
from rebal_settlement_tracker.adapters.run_document import (
    RUNS,
    refusal_repository,
    run_from_document,
    run_repository,
)
from rebal_settlement_tracker.domain import (
    AcceptancePolicy,
    Run,
    SettlementCycles,
    SettlementPolicy,
)
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers

XNYS = ExchangeCalendar("XNYS")


@dataclass
class Harness:
    store: InMemoryStore
    clock: FakeClock
    handlers: SettlementHandlers

    def published(self) -> list[Event]:
        """Everything committed to the outbox so far, decoded as a consumer would see it."""
        return [decode(m.topic, m.value) for m in self.store.outbox_messages()]

    def settled(self, run_id: str | None = None) -> list[TransactionSettled]:
        return [
            e
            for e in self.published()
            if isinstance(e, TransactionSettled) and run_id in (None, e.run_id)
        ]

    def completed(self, run_id: str | None = None) -> list[RunCompleted]:
        return [
            e
            for e in self.published()
            if isinstance(e, RunCompleted) and run_id in (None, e.run_id)
        ]

    def run_settled(self, run_id: str | None = None) -> list[RunSettled]:
        return [
            e for e in self.published() if isinstance(e, RunSettled) and run_id in (None, e.run_id)
        ]

    def statuses(self, run_id: str | None = None) -> list[RunCreated | RunStatusChanged]:
        """run.created and run.status_changed, in publication order."""
        return [
            e
            for e in self.published()
            if isinstance(e, RunCreated | RunStatusChanged) and run_id in (None, e.id)
        ]

    def status_path(self, run_id: str | None = None) -> list[str]:
        return [e.status.value for e in self.statuses(run_id)]

    def rejected(self) -> list[RequestRejected]:
        return [e for e in self.published() if isinstance(e, RequestRejected)]

    async def run(self, run_id: str) -> Run:
        doc = await self.store.load(RUNS, run_id)
        assert doc is not None
        return run_from_document(doc.state)

    async def handle(self, event: Event, *provenance: Any) -> bool:
        """`provenance`: a fill's or close's `Provenance` (who signed it), if any."""
        handler: Callable[..., Any] = {
            "optimization.ready": self.handlers.optimization_ready,
            "order.filled": self.handlers.order_filled,
            "order.closed": self.handlers.order_closed,
            "run.cancel_requested": self.handlers.run_cancel_requested,
            "run.execution_queued": self.handlers.run_execution,
            "run.execution_started": self.handlers.run_execution,
            "run.execution_stopped": self.handlers.run_execution,
        }[event.event_type]
        result: bool = await handler(event, *provenance)
        return result


HarnessFactory = Callable[..., Harness]


@pytest.fixture
def harness() -> HarnessFactory:
    def make(
        start: datetime,
        *,
        cycle_days: int = 1,
        sweep_page: int = 200,
        acceptance: AcceptancePolicy | None = None,
        run_timeout: timedelta = timedelta(days=1),
        cancel_wait: timedelta = timedelta(days=1),
    ) -> Harness:
        store = InMemoryStore()
        clock = FakeClock(start)
        cycles = SettlementCycles({}, cycle_days)
        policy = SettlementPolicy(XNYS, XNYS.timezone, cycles, run_timeout, cancel_wait)
        handlers = SettlementHandlers(
            run_repository(store),
            clock,
            policy,
            producer="settlement-tracker",
            refusals=refusal_repository(store),
            sweep_page=sweep_page,
            acceptance=acceptance,
        )
        return Harness(store, clock, handlers)

    return make
