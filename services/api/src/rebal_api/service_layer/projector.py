"""The projection: every public event the api reads, applied once to its read model.

One handler per event type. Each change is an `apply_once` write through the repository of the
document it changes (inbox: a redelivered event is a no-op), so the api's own writes, applied
here at once by the command side (`apply`), are skipped when they come back from Kafka.
"""

from __future__ import annotations

from collections.abc import Sequence

import rebal_schemas as wire
from rebal_api.domain import catalog, runs
from rebal_api.domain.dead_letters import DeadLetterEntry, letter_recorded
from rebal_api.domain.ids import ulid_uuid
from rebal_api.domain.views import AccountView
from rebal_api.service_layer import translate
from rebal_api.service_layer.book_projection import BookProjection
from rebal_api.service_layer.lag import ProjectionLag
from rebal_api.service_layer.ports import DEAD_LETTER_LOG, ReadModel
from rebal_api.service_layer.run_projection import RunProjection, changed
from rebal_runtime.clock import Clock
from rebal_runtime.repository import Outcome, Work


class Projector(RunProjection):
    """Every event the api reads (`project`) and every event it writes (`apply`)."""

    def __init__(self, read: ReadModel, clock: Clock, service_name: str) -> None:
        super().__init__(read, clock, service_name)
        self.book = BookProjection(read, clock)
        self.lag = ProjectionLag()

    # -- models and accounts ---------------------------------------------------------------

    async def model_updated(self, event: wire.ModelUpdated) -> None:
        facts, at, sid = translate.model_facts(event), event.occurred_at, self._stream_id()
        await self.read.models.update(
            event.model_id,
            event.event_id,
            lambda current: Outcome(catalog.model_updated(current, facts, event.event_id, at, sid)),
        )

    async def model_status_changed(self, event: wire.ModelStatusChanged) -> None:
        at, sid = self.clock.now(), self._stream_id()
        await self.read.models.update(
            event.model_id,
            event.event_id,
            lambda current: changed(
                catalog.model_status_changed(
                    current, event.status.value, event.event_id, at, sid, tuple(event.symbols)
                )
            ),
        )

    def _settings_work(self, event: wire.PortfolioSettingsChanged) -> Work[AccountView]:
        facts, at = translate.settings_facts(event), event.occurred_at
        return Work(
            event.portfolio_id,
            event.event_id,
            lambda current: Outcome(catalog.settings_changed(current, facts, event.event_id, at)),
        )

    async def portfolio_patched(self, events: Sequence[wire.PortfolioPatched]) -> None:
        """Settings make the account (Alpaca's) and the portfolio (InvestSuite's); holdings,
        deposits and withdrawals change the portfolio's book."""
        settings = [e for e in events if isinstance(e, wire.PortfolioSettingsChanged)]
        if settings:
            await self.read.accounts.update_many([self._settings_work(e) for e in settings])
            await self.book.settings_changed(settings)
        for event in events:
            if not isinstance(event, wire.PortfolioSettingsChanged):
                await self.book.patched(event)

    async def request_rejected(self, event: wire.RequestRejected) -> None:
        cause, kind = event.causation_id, event.request_event_type
        assert cause is not None  # the schema requires it
        at, sid = self.clock.now(), self._stream_id()
        if kind == "rebalance.requested" and (uuid := ulid_uuid(cause)) is not None:
            message = f"{event.reason_code.value}: {event.message}"
            await self.read.run_requests.update(
                uuid,
                event.event_id,
                lambda current: changed(runs.request_ended(current, "ERROR", message, at, sid)),
            )
        elif kind == "portfolio.settings_changed" and event.portfolio_id is not None:
            await self.read.accounts.update(
                event.portfolio_id,
                event.event_id,
                lambda current: changed(catalog.subscription_refused(current, cause)),
            )
        elif kind == "optimization.decided":
            await self.book.decision_refused(event)
        elif kind == "model.updated" and event.model_id is not None:
            await self.read.models.update(
                event.model_id,
                event.event_id,
                lambda current: changed(catalog.model_change_refused(current, cause, at, sid)),
            )

    async def dead_lettered(self, event: wire.MessageDeadLettered) -> None:
        entry = DeadLetterEntry(
            event.event_id,
            event.failed_at,
            event.original_topic,
            event.consumer_group,
            event.error_type,
            event.reason,
        )
        await self.read.dead_letters.update(
            DEAD_LETTER_LOG,
            event.event_id,
            lambda current: Outcome(letter_recorded(current, entry)),
        )

    # -- what Kafka brings ------------------------------------------------------------------

    async def project(self, events: Sequence[wire.Event]) -> None:
        """A batch of the topics the api reads, in the order it came (every partition's order);
        runs of settings events are written together."""
        settings: list[wire.PortfolioSettingsChanged] = []
        for event in [*events, None]:
            if isinstance(event, wire.PortfolioSettingsChanged):
                settings.append(event)
                continue
            if settings:
                await self.portfolio_patched(settings)
                settings = []
            if event is not None:
                await self.one(event)
        self.lag.observed(events, self.clock.now())

    async def one(self, event: wire.Event) -> None:
        if isinstance(event, wire.ModelUpdated):
            await self.model_updated(event)
        elif isinstance(event, wire.ModelStatusChanged):
            await self.model_status_changed(event)
        elif isinstance(
            event,
            wire.PortfolioSettingsChanged
            | wire.HoldingsReported
            | wire.CashDeposited
            | wire.WithdrawalRequested,
        ):
            await self.portfolio_patched([event])
        elif isinstance(event, wire.RebalanceRequested):
            await self.rebalance_requested([event])
        elif isinstance(event, wire.OptimizationCreated):
            await self.optimization_created(event)
            await self.book.optimization_created(event)
        elif isinstance(event, wire.OptimizationStatusChanged):
            await self.optimization_created(event)
            await self.book.optimization_status_changed(event)
        elif isinstance(event, wire.OptimizationReady):
            await self.optimization_ready(event)
            await self.book.optimization_ready(event)
        elif isinstance(event, wire.OptimizationDecided):
            await self.book.decided(event)
        elif isinstance(event, wire.RunCreated | wire.RunStatusChanged):
            await self.run_status_changed(event)
        elif isinstance(event, wire.RunCompleted):
            await self.run_completed(event)
            await self.book.run_finished(event)
        elif isinstance(event, wire.RunSettled):
            await self.run_settled(event)
            await self.book.run_finished(event)
        elif isinstance(event, wire.TransactionSettled):
            await self.transaction_settled(event)
        elif isinstance(event, wire.RunCancelRequested):
            await self.run_cancel_requested(event)
        elif isinstance(event, wire.RequestRejected):
            await self.request_rejected(event)
        elif isinstance(event, wire.MessageDeadLettered):
            await self.dead_lettered(event)

    # -- the command side's own writes -------------------------------------------------------

    async def apply(self, event: wire.Event) -> None:
        """Apply an event the api itself published, at once (read your writes)."""
        await self.one(event)
