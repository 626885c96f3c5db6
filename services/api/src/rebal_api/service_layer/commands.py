"""The writes of Alpaca's Rebalancing API as rebal events (validated by `rebal_schemas`).

| request | event (topic) |
|---|---|
| create / update / inactivate a portfolio | `model.updated` (the whole model; `inactive` retires it) |
| create / delete a subscription | `portfolio.settings_changed` with `model_id` / `model_id: null` |
| create a run | `rebalance.requested` (scope portfolio, reason manual, initiated_from api; the dashboard's: dashboard) |
| cancel a run | `run.cancel_requested` |

Where the read model already shows that rebal would refuse, the answer is 422 at once
(`domain.rules`). Accounts: an account is one rebal portfolio. An account the api has never seen
gets the portfolio id of its own UUID (`portfolio_id == account_id == "<uuid>"`) with its first
subscription; an account rebal already knows (a `portfolio.settings_changed` named its
`account_id`) keeps its portfolio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import rebal_schemas as wire
from rebal_api.domain import alpaca, catalog, rules
from rebal_api.domain.ids import new_uuid
from rebal_api.domain.views import ModelView, RunRequest
from rebal_api.service_layer import translate
from rebal_api.service_layer.command_base import EventCommands, SettingsPatch
from rebal_api.service_layer.errors import NotFound, Unprocessable
from rebal_api.service_layer.projector import Projector
from rebal_api.service_layer.queries import Queries
from rebal_api.service_layer.writes import Answer, Decision, Writes, as_consumed
from rebal_runtime.clock import Clock

Json = Mapping[str, Any]


@dataclass(frozen=True)
class PortfolioInput:
    """A model as a client sends it; None: not given (a PATCH keeps the current value)."""

    name: str | None = None
    description: str | None = None
    weights: Sequence[Json] | None = None
    cooldown_days: int | None = None
    rebalance_conditions: Sequence[Json] | None = None


@dataclass(frozen=True)
class RunInput:
    account_uuid: str
    type: str
    amount: Decimal | None = None
    weights: Sequence[Json] | None = None
    initiated_from: str = "api"
    """`api` for `POST /runs`, `dashboard` for the api's dashboard."""


def _as_input(model: ModelView | None) -> PortfolioInput:
    if model is None:
        return PortfolioInput(description="", weights=(), cooldown_days=0, rebalance_conditions=())
    return PortfolioInput(
        name=model.name,
        description=model.description,
        weights=[alpaca.weight_json(w) for w in model.weights],
        cooldown_days=model.cooldown_days,
        rebalance_conditions=[alpaca.condition_json(c, omit_empty=True) for c in model.conditions],
    )


class Commands(EventCommands):
    def __init__(
        self,
        queries: Queries,
        writes: Writes,
        projector: Projector,
        clock: Clock,
        producer: str,
    ) -> None:
        super().__init__(writes, clock, producer)
        self.queries = queries
        self.projector = projector

    # -- portfolios (rebal models) ------------------------------------------------------------

    def _model_event(
        self, model_id: str, status: str, data: PortfolioInput, current: ModelView | None
    ) -> wire.ModelUpdated:
        """The whole model: what `data` gives, else what `current` has (a PATCH)."""
        kept = _as_input(current)

        def pick(new: Any, old: Any) -> Any:
            return old if new is None else new

        return self._valid(
            wire.ModelUpdated,
            model_id=model_id,
            name=pick(data.name, kept.name),
            description=pick(data.description, kept.description),
            status=status,
            weights=pick(data.weights, kept.weights),
            cooldown_days=pick(data.cooldown_days, kept.cooldown_days),
            rebalance_conditions=pick(data.rebalance_conditions, kept.rebalance_conditions),
            **self._envelope(),
        )

    @staticmethod
    def _portfolio_answer(
        current: ModelView | None, event: wire.ModelUpdated, status: int = 200
    ) -> Answer:
        view = catalog.model_updated(
            current, translate.model_facts(event), event.event_id, event.occurred_at, ""
        )
        return Answer(status, alpaca.portfolio_json(view))

    async def create_portfolio(self, data: PortfolioInput, key: str | None, print_: str) -> Answer:
        async def decide() -> Decision:
            if not data.name:
                raise Unprocessable("name is required")
            event = self._model_event(new_uuid(self.clock.now()), "active", data, None)
            return self._portfolio_answer(None, event), [event]

        return await self.writes.perform(key, print_, decide)

    async def _model(self, uuid: str) -> ModelView:
        model = await self.queries.model(uuid)
        if model is None:
            raise NotFound(f"portfolio {uuid} not found")
        return model

    async def update_portfolio(
        self, uuid: str, data: PortfolioInput, key: str | None, print_: str
    ) -> Answer:
        async def decide() -> Decision:
            current = await self._model(uuid)
            # Changing a model that needs adjustment (an ineligible symbol) makes it active again.
            status = "active" if current.status == "needs_adjustment" else current.status
            event = self._model_event(current.model_id, status, data, current)
            return self._portfolio_answer(current, event), [event]

        return await self.writes.perform(key, print_, decide)

    async def inactivate_portfolio(self, uuid: str, key: str | None, print_: str) -> Answer:
        async def decide() -> Decision:
            current = await self._model(uuid)
            refusal = rules.inactivate_refusal(
                current, await self.queries.subscribers(current.model_id)
            )
            if refusal:
                raise Unprocessable(refusal)
            if current.status == "inactive":
                return Answer(204), []
            return Answer(204), [
                self._model_event(current.model_id, "inactive", PortfolioInput(), current)
            ]

        return await self.writes.perform(key, print_, decide)

    # -- subscriptions (a portfolio's model) --------------------------------------------------

    async def create_subscription(
        self, account_uuid: str, model_uuid: str, key: str | None, print_: str
    ) -> Answer:
        async def decide() -> Decision:
            account = await self.queries.account(account_uuid)
            model = await self.queries.model(model_uuid)
            refusal = rules.subscribe_refusal(account, model)
            if refusal:
                raise Unprocessable(refusal)
            assert model is not None
            first: dict[str, Any] = {}
            if account is None:  # a new rebal portfolio: the account's own UUID
                first = {
                    "mandate": wire.Mandate.DISCRETIONARY,
                    "broker_integration": wire.BrokerIntegration.PLATFORM,
                    "optimizer": wire.OptimizerMode.PLATFORM,
                }
            event = self._valid(
                SettingsPatch,
                portfolio_id=account.portfolio_id if account else account_uuid,
                account_id=(account.account_id if account else None) or account_uuid,
                model_id=model.model_id,
                **first,
                **self._envelope(),
            )
            view = catalog.settings_changed(
                account,
                translate.settings_facts(as_consumed(event)),
                event.event_id,
                event.occurred_at,
            )
            return Answer(200, alpaca.subscription_json(view)), [event]

        return await self.writes.perform(key, print_, decide)

    async def delete_subscription(self, uuid: str, key: str | None, print_: str) -> Answer:
        async def decide() -> Decision:
            account = await self.queries.subscription(uuid)
            if account is None:
                raise Unprocessable(f"subscription {uuid} not found")
            event = SettingsPatch(
                portfolio_id=account.portfolio_id, model_id=None, **self._envelope()
            )
            return Answer(204), [event]

        return await self.writes.perform(key, print_, decide)

    # -- runs -------------------------------------------------------------------------------

    async def create_run(self, data: RunInput, key: str | None, print_: str) -> Answer:
        async def decide() -> Decision:
            account = await self.queries.account(data.account_uuid)
            own = bool(data.weights)
            open_runs = await self.queries.open_runs(data.account_uuid) if account else 0
            refusal = rules.run_refusal(account, own, open_runs)
            if refusal:
                raise Unprocessable(refusal)
            assert account is not None
            event = self._valid(
                wire.RebalanceRequested,
                scope="portfolio",
                portfolio_id=account.portfolio_id,
                reason=wire.TriggerReason.manual,
                run_type=data.type,
                weights=list(data.weights) if own and data.weights else None,
                amount=data.amount,
                initiated_from=wire.RunInitiator(data.initiated_from),
                **self._envelope(),
            )
            request = await self.projector.run_request(event, account)
            return Answer(200, alpaca.request_json(request)), [event]

        return await self.writes.perform(key, print_, decide)

    async def cancel_run(self, uuid: str, key: str | None, print_: str) -> Answer:
        async def decide() -> Decision:
            run = await self.queries.run(uuid)
            if run is None:
                raise NotFound(f"run {uuid} not found")
            if isinstance(run, RunRequest):
                refusal = rules.cancel_refusal(run.status, not run.is_open, rebal_run_known=False)
                raise Unprocessable(refusal or "run cannot be canceled")
            refusal = rules.cancel_refusal(run.status, run.is_final, rebal_run_known=True)
            if refusal:
                raise Unprocessable(refusal)
            event = wire.RunCancelRequested(
                run_id=run.run_id,
                portfolio_id=run.portfolio_id,
                reason=f"DELETE /v1/rebalancing/runs/{uuid}",
                correlation_id=run.run_id,
                **self._envelope(),
            )
            return Answer(204), [event]

        return await self.writes.perform(key, print_, decide)
