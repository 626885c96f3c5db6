"""The projection of InvestSuite's portfolio and its optimizations (`domain.portfolio_book`,
`domain.optimizations`): every change an `apply_once` write through its repository (inbox)."""

from __future__ import annotations

from collections.abc import Sequence

import rebal_schemas as wire
from rebal_api.domain import optimizations as opt
from rebal_api.domain import portfolio_book as book
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.service_layer import translate
from rebal_api.service_layer.ports import ReadModel
from rebal_api.service_layer.run_projection import changed
from rebal_runtime.clock import Clock
from rebal_runtime.repository import Outcome, Work

Patch = wire.HoldingsReported | wire.CashDeposited | wire.WithdrawalRequested


def applied(current: PortfolioView | None, event: Patch) -> PortfolioView | None:
    """A holdings report, a deposit or a withdrawal request on the portfolio's book (None:
    an unknown portfolio, or nothing changed)."""
    at = event.occurred_at
    if isinstance(event, wire.HoldingsReported):
        snapshot = event.mode == "snapshot"
        return book.holdings_reported(
            current, event.holdings, snapshot=snapshot, cash=event.cash, as_of=event.as_of, at=at
        )
    if isinstance(event, wire.CashDeposited):
        return book.cash_deposited(current, event.amount, event.deposit_id, at)
    return book.withdrawal_requested(current, None if event.full else event.amount, at)


class BookProjection:
    def __init__(self, read: ReadModel, clock: Clock) -> None:
        self.read = read
        self.clock = clock

    # -- portfolio.patched -------------------------------------------------------------------

    async def settings_changed(self, events: Sequence[wire.PortfolioSettingsChanged]) -> None:
        def work(event: wire.PortfolioSettingsChanged) -> Work[PortfolioView]:
            present, at = translate.settings_present(event), event.occurred_at
            return Work(
                event.portfolio_id,
                event.event_id,
                lambda current: Outcome(
                    book.settings_patched(current, event.portfolio_id, present, at)
                ),
            )

        await self.read.portfolios.update_many([work(e) for e in events])

    async def patched(self, event: Patch) -> None:
        await self.read.portfolios.update(
            event.portfolio_id, event.event_id, lambda current: changed(applied(current, event))
        )

    # -- optimizations and the block ---------------------------------------------------------

    async def _optimization(self, optimization_id: str) -> str | None:
        found = await self.read.optimizations.query("optimization_id", optimization_id, limit=1)
        return found[0] if found else None

    async def _block(self, event: wire.Event, optimization_id: str, run_type: wire.RunType) -> None:
        portfolio_id, at = getattr(event, "portfolio_id"), event.occurred_at  # noqa: B009
        kind = wire.PortfolioRunType.of(run_type).value
        await self.read.portfolios.update(
            portfolio_id,
            event.event_id,
            lambda current: changed(book.blocked(current, optimization_id, kind, at)),
        )

    async def optimization_created(self, event: wire.OptimizationCreated) -> None:
        view = translate.optimization_view(event)
        doc_id = await self._optimization(event.optimization_id) or view.key
        await self.read.optimizations.update(
            doc_id, event.event_id, lambda current: changed(opt.created(current, view))
        )
        await self.read.portfolios.update(
            event.portfolio_id,
            event.event_id,
            lambda current: changed(book.optimized(current, event.optimization_id)),
        )
        if event.status is wire.OptimizationStatus.READY:
            await self._block(event, event.optimization_id, event.run_type)

    async def optimization_status_changed(self, event: wire.OptimizationStatusChanged) -> None:
        doc_id = await self._optimization(event.optimization_id)
        if doc_id is None:
            return
        status, choice, at = event.status.value, event.owner_choice, event.occurred_at
        committed = await self.read.optimizations.update(
            doc_id,
            event.event_id,
            lambda current: changed(
                opt.status_changed(
                    current, status, choice.value if choice else None, event.detail, at
                )
            ),
        )
        if committed is not None and event.status is wire.OptimizationStatus.READY:
            run_type = wire.RunType(committed.aggregate.run_type)
            await self._block(event, event.optimization_id, run_type)

    async def optimization_ready(self, event: wire.OptimizationReady) -> None:
        await self._block(event, event.optimization_id, event.run_type)

    async def decided(self, event: wire.OptimizationDecided) -> None:
        """The api's own owner's choice, until the optimizer answers it."""
        doc_id = await self._optimization(event.optimization_id)
        if doc_id is None:
            return
        choice, at = event.owner_choice.value, event.occurred_at
        await self.read.optimizations.update(
            doc_id,
            event.event_id,
            lambda current: changed(opt.choice_requested(current, choice, at)),
        )

    async def decision_refused(self, event: wire.RequestRejected) -> None:
        doc_id = await self._optimization(event.run_id) if event.run_id else None
        if doc_id is None:
            return
        message, at = f"{event.reason_code.value}: {event.message}", self.clock.now()
        await self.read.optimizations.update(
            doc_id,
            event.event_id,
            lambda current: changed(opt.choice_refused(current, message, at)),
        )

    # -- a run's outcome ---------------------------------------------------------------------

    async def run_finished(self, event: wire.RunCompleted | wire.RunSettled) -> None:
        settled, at = isinstance(event, wire.RunSettled), event.occurred_at
        await self.read.portfolios.update(
            event.portfolio_id,
            event.event_id,
            lambda current: changed(
                book.run_finished(
                    current,
                    event.optimization_id,
                    event.holdings_delta,
                    event.cash_delta,
                    event.last_execution_at,
                    settled=settled,
                    at=at,
                )
            ),
        )
