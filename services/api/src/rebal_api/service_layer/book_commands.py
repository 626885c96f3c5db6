"""InvestSuite's writes on a portfolio as rebal events, through the same machinery as Alpaca's
(`Writes`: one commit of the events with the answer, Idempotency-Key, applied at once):

| request | event (topic) |
|---|---|
| `POST /v1/portfolios/{id}/deposits` | `portfolio.cash_deposited` (portfolio.patched) |
| `POST /v1/portfolios/{id}/withdrawals` | `portfolio.withdrawal_requested` (portfolio.patched) |
| `PATCH /v1/portfolios/{id}` | `portfolio.settings_changed` with the settings given, only those; a holdings snapshot `portfolio.holdings_reported` (portfolio.patched) |
| `POST /v1/portfolios/{id}/optimizations/{oid}/decision` | `optimization.decided` |

Each answers 202 with the resource as the api reads it once its events are applied; the
optimizer stays the authority (a refused owner's choice shows as `owner_choice_refused`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import rebal_schemas as wire
from rebal_api.domain import investsuite
from rebal_api.domain import optimizations as opt
from rebal_api.domain import portfolio_book as book
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.service_layer import translate
from rebal_api.service_layer.book_projection import applied
from rebal_api.service_layer.book_queries import BookQueries
from rebal_api.service_layer.command_base import EventCommands, SettingsPatch
from rebal_api.service_layer.errors import NotFound, Unprocessable
from rebal_api.service_layer.writes import Answer, Decision, Writes, as_consumed
from rebal_runtime.clock import Clock


@dataclass(frozen=True)
class HoldingsInput:
    """A snapshot: it replaces the holdings (and the cash, when given)."""

    holdings: Mapping[str, Decimal]
    cash: Decimal | None = None
    as_of: datetime | None = None


@dataclass(frozen=True)
class PatchInput:
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Only the settings the client gave (null included: it resets, as on the topic)."""
    holdings: HoldingsInput | None = None


class BookCommands(EventCommands):
    def __init__(self, queries: BookQueries, writes: Writes, clock: Clock, producer: str) -> None:
        super().__init__(writes, clock, producer)
        self.queries = queries

    async def _accepted(self, view: PortfolioView | None) -> Answer:
        assert view is not None
        return Answer(202, await self.queries.portfolio_json(view))

    async def deposit(
        self,
        portfolio_id: str,
        amount: Decimal,
        deposit_id: str | None,
        key: str | None,
        print_: str,
    ) -> Answer:
        async def decide() -> Decision:
            current = await self.queries.known(portfolio_id)
            event = self._valid(
                wire.CashDeposited,
                portfolio_id=portfolio_id,
                amount=amount,
                deposit_id=deposit_id,
                **self._envelope(),
            )
            return await self._accepted(applied(current, event) or current), [event]

        return await self.writes.perform(key, print_, decide)

    async def withdraw(
        self, portfolio_id: str, amount: Decimal | None, full: bool, key: str | None, print_: str
    ) -> Answer:
        async def decide() -> Decision:
            current = await self.queries.known(portfolio_id)
            event = self._valid(
                wire.WithdrawalRequested,
                portfolio_id=portfolio_id,
                amount=amount,
                full=full,
                **self._envelope(),
            )
            return await self._accepted(applied(current, event)), [event]

        return await self.writes.perform(key, print_, decide)

    async def _check_model(self, settings: Mapping[str, Any]) -> None:
        model_id = settings.get("model_id")
        if model_id is None:
            return
        model = await self.queries.read.models.load(model_id)
        if model is None:
            raise Unprocessable(f"model {model_id} not found")
        if model.status != "active":
            raise Unprocessable(
                f"model {model_id} is {model.status}: only an active model can be followed"
            )

    async def patch(
        self, portfolio_id: str, data: PatchInput, key: str | None, print_: str
    ) -> Answer:
        """Settings (creates the portfolio, as portfolio.settings_changed does) and holdings."""

        async def decide() -> Decision:
            current = await self.queries.view(portfolio_id)
            if current is None and not data.settings:
                raise NotFound(f"portfolio {portfolio_id} not found: give its settings first")
            await self._check_model(data.settings)
            events: list[wire.Event] = []
            view = current
            if data.settings:
                settings = self._valid(
                    SettingsPatch, portfolio_id=portfolio_id, **data.settings, **self._envelope()
                )
                present = translate.settings_present(as_consumed(settings))
                view = book.settings_patched(view, portfolio_id, present, settings.occurred_at)
                events.append(settings)
            if data.holdings is not None:
                holdings = self._valid(
                    wire.HoldingsReported,
                    portfolio_id=portfolio_id,
                    mode="snapshot",
                    as_of=data.holdings.as_of or self.clock.now(),
                    holdings=dict(data.holdings.holdings),
                    cash=data.holdings.cash,
                    **self._envelope(),
                )
                view = applied(view, holdings) or view
                events.append(holdings)
            return await self._accepted(view), events

        return await self.writes.perform(key, print_, decide)

    async def decide(
        self,
        portfolio_id: str,
        optimization_id: str,
        choice: str,
        key: str | None,
        print_: str,
    ) -> Answer:
        async def decide() -> Decision:
            await self.queries.known(portfolio_id)
            current = await self.queries.optimization(portfolio_id, optimization_id)
            if not current.awaiting_owner:
                raise Unprocessable(
                    f"optimization {optimization_id} is {current.status}: only an optimization "
                    "AWAITING_OWNER takes the owner's choice"
                )
            event = self._valid(
                wire.OptimizationDecided,
                portfolio_id=portfolio_id,
                optimization_id=optimization_id,
                owner_choice=choice,
                correlation_id=optimization_id,
                **self._envelope(),
            )
            after = opt.choice_requested(current, choice, event.occurred_at)
            assert after is not None
            return Answer(202, investsuite.optimization_json(after)), [event]

        return await self.writes.perform(key, print_, decide)
