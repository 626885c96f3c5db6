"""The projection of runs: the optimizer's and the settlement-tracker's events about a run,
and the api's own run requests, merged into the read model (`domain.runs`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import rebal_schemas as wire
from rebal_api.domain import catalog, runs
from rebal_api.domain.ids import new_ulid, to_uuid, ulid_uuid
from rebal_api.domain.runs import RunFacts
from rebal_api.domain.views import AccountView, RunRequest, RunView
from rebal_api.service_layer import translate
from rebal_api.service_layer.ports import ReadModel
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome

V = TypeVar("V")
log = get_logger(__name__)
ENDED = {"REJECTED": "CANCELED", "SUPERSEDED": "CANCELED", "EXPIRED": "TIMEOUT"}
"""How an advisory optimization that never became a run ends the run the api was asked for."""


def changed(view: V | None) -> Outcome[V] | None:
    return None if view is None else Outcome(view)


def _first(view: V) -> Callable[[V | None], Outcome[V] | None]:
    """A step that creates `view` unless its document exists."""
    return lambda current: None if current is not None else Outcome(view)


class RunProjection:
    def __init__(self, read: ReadModel, clock: Clock, service_name: str) -> None:
        self.read = read
        self.clock = clock
        self.service_name = service_name
        self._last_stream_id: str | None = None

    def _stream_id(self) -> str:
        """The id of a stream entry made now: ordered as this process makes them."""
        self._last_stream_id = new_ulid(self.clock.now(), self._last_stream_id)
        return self._last_stream_id

    # -- runs -----------------------------------------------------------------------------

    async def _api_run_uuid(
        self, run_id: str, initiated_from: str, cause: str | None
    ) -> str | None:
        """The Alpaca id of a run from an optimizer event: the request's, when the api was asked
        for it (by the request's ULID, or an advisory request by its optimization id)."""
        if initiated_from in runs.REQUESTED_HERE:
            waiting = await self.read.run_requests.query("optimization_id", run_id, limit=1)
            if waiting:
                return waiting[0]
        if initiated_from == "dashboard" and cause is not None:
            asked = ulid_uuid(cause)
            if asked is not None and await self.read.run_requests.load(asked) is not None:
                return asked  # the dashboard's own request (its `/ui` run form)
        return runs.run_uuid(run_id, initiated_from, cause)

    async def _run(self, facts: RunFacts, event_id: str) -> RunView | None:
        account = await self.read.accounts.load(facts.portfolio_id)
        model_id = account.subscription.model_id if account and account.subscription else None
        request = await self.read.run_requests.load(facts.uuid) if facts.uuid else None
        sid = self._stream_id()
        committed = await self.read.runs.update(
            facts.run_id,
            event_id,
            lambda current: Outcome(
                runs.run_changed(
                    current, facts, model_id=model_id, announced=request is not None, stream_id=sid
                )
            ),
        )
        run = committed.aggregate if committed is not None else None
        if run is not None and run.uuid is not None:
            at = self.clock.now()
            # the request the run answers: by its id, or the one this event names (a dashboard
            # run a settlement event showed first under its derived id)
            for asked in dict.fromkeys(u for u in (run.uuid, facts.uuid) if u is not None):
                await self.read.run_requests.update(
                    asked,
                    event_id,
                    lambda current: changed(runs.request_linked(current, run.run_id, at)),
                )
        return run

    async def optimization_created(self, event: wire.OptimizationCreatedTopic) -> None:
        if isinstance(event, wire.OptimizationStatusChanged):
            await self._optimization_ended(event)
            return
        initiated = event.initiated_from.value
        status = event.status
        if status is wire.OptimizationStatus.READY:
            uuid = await self._api_run_uuid(event.optimization_id, initiated, event.causation_id)
            await self._run(translate.ready_facts(event, uuid), event.event_id)
            return
        request_uuid = ulid_uuid(event.causation_id) if initiated in runs.REQUESTED_HERE else None
        if request_uuid is None:
            return  # an evaluation that made no run, and answers no request of the api
        if status is wire.OptimizationStatus.AWAITING_OWNER:
            step = lambda current: changed(runs.request_awaiting(current, event.optimization_id))  # noqa: E731
        elif status is wire.OptimizationStatus.NOT_RECOMMENDED:
            reason, at, sid = (
                translate.reasons_text(event.reasons),
                self.clock.now(),
                self._stream_id(),
            )
            step = lambda current: changed(runs.request_ended(current, "ERROR", reason, at, sid))  # noqa: E731
        else:
            return
        await self.read.run_requests.update(request_uuid, event.event_id, step)

    async def _optimization_ended(self, event: wire.OptimizationStatusChanged) -> None:
        status = ENDED.get(event.status.value)
        if status is None:
            return
        reason = f"optimization {event.status.value}" + (
            f": {event.detail}" if event.detail else ""
        )
        at, sid = self.clock.now(), self._stream_id()
        for uuid in await self.read.run_requests.ids("optimization_id", event.optimization_id):
            await self.read.run_requests.update(
                uuid,
                event.event_id,
                lambda current: changed(runs.request_ended(current, status, reason, at, sid)),
            )

    async def optimization_ready(self, event: wire.OptimizationReady) -> None:
        initiated = event.initiated_from.value
        uuid = await self._api_run_uuid(event.optimization_id, initiated, event.causation_id)
        await self._run(translate.ready_facts(event, uuid), event.event_id)

    async def run_status_changed(self, event: wire.RunStatusTopic) -> None:
        uuid = runs.run_uuid(event.id, event.initiated_from.value, None)
        await self._run(translate.run_fields_facts(event, event.occurred_at, uuid), event.event_id)

    async def run_completed(self, event: wire.RunCompleted) -> None:
        uuid = runs.run_uuid(event.id, event.initiated_from.value, None)
        run = await self._run(
            translate.completed_facts(event, event.occurred_at, uuid), event.event_id
        )
        done = event.completed_at or event.occurred_at
        if event.status.value.startswith("COMPLETED") or (run is not None and run.orders):
            await self.read.accounts.update(
                event.portfolio_id,
                event.event_id,
                lambda current: changed(catalog.rebalanced(current, done)),
            )

    async def run_settled(self, event: wire.RunSettled) -> None:
        await self._run(translate.settled_facts(event, None), event.event_id)

    async def transaction_settled(self, event: wire.TransactionSettled) -> None:
        at, state = event.occurred_at, translate.leg_settled(event)
        await self.read.runs.update(
            event.run_id,
            event.event_id,
            lambda current: changed(runs.leg_settled(current, state, at)),
        )

    async def run_cancel_requested(self, event: wire.RunCancelRequested) -> None:
        at = self.clock.now()
        await self.read.runs.update(
            event.run_id,
            event.event_id,
            lambda current: changed(runs.cancel_requested(current, at)),
        )

    async def run_request(self, event: wire.RebalanceRequested, account: AccountView) -> RunRequest:
        """The run the api promised for its own `rebalance.requested` (QUEUED), with its own
        weights or those of the model the account follows."""
        assert event.portfolio_id is not None
        assert account.account_id is not None
        model_id = account.subscription.model_id if account.subscription else None
        weights = translate.weights(event.weights or ())
        if not weights and model_id is not None:
            model = await self.read.models.load(model_id)
            weights = model.weights if model is not None else ()
        uuid = ulid_uuid(event.event_id) or to_uuid("run-request", event.event_id)
        request = RunRequest(
            uuid=uuid,
            request_id=event.event_id,
            portfolio_id=event.portfolio_id,
            account_id=account.account_id,
            model_id=model_id,
            type=(event.run_type or wire.RunType.full_rebalance).value,
            status="QUEUED",
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
            amount=event.amount,
            weights=weights,
            initiated_from=event.initiated_from.value,
        )
        return runs.run_requested(request, self._stream_id())

    async def rebalance_requested(self, events: Sequence[wire.RebalanceRequested]) -> None:
        """The api's own manual-run requests (the others are not runs until rebal makes one)."""
        for event in events:
            own = event.producer == self.service_name and event.scope == "portfolio"
            if (
                not own
                or event.portfolio_id is None
                or event.reason is not wire.TriggerReason.manual
            ):
                continue
            account = await self.read.accounts.load(event.portfolio_id)
            if account is None or account.account_id is None:
                log.warning("run request for an unknown account", portfolio_id=event.portfolio_id)
                continue
            request = await self.run_request(event, account)
            await self.read.run_requests.update(request.uuid, event.event_id, _first(request))
