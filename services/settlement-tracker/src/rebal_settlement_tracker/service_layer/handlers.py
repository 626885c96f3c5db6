"""Handlers of the settlement-tracker: one per input topic, plus the clock-driven sweep.

Each run is ONE document in collection `runs` (id = run id = optimization id), written with
`apply_once`: the new facts, the processed event id and the events to publish commit together.
PLATFORM fills (order-router) and CLIENT fills (the client's middleware) arrive on the same
topics with the same shape and are handled identically.

Fate of an input, decided by the domain:
- new fact              -> recorded; whatever is due settles; run.completed when all is final;
- duplicate / stale     -> no-op (the event id is still recorded);
- contradiction         -> PoisonMessage with the reason (dead.letter), e.g. a fill for a leg the
  (unknown leg, fill       plan does not contain, or a fill that would change a completed run.
  after completion)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rebal_runtime.log import get_logger
from rebal_runtime.store import Document, DocumentStore
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import Event, OptimizationReady, OrderClosed, OrderFilled, PoisonMessage
from rebal_settlement_tracker.adapters.clock import Clock
from rebal_settlement_tracker.adapters.run_document import run_from_document, run_to_document
from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateEvent,
    IllegalTransition,
    InvalidEvent,
    Run,
    settlement_date,
)
from rebal_settlement_tracker.service_layer import messages
from rebal_settlement_tracker.service_layer.progress import Progress, SettlementPolicy, advance

log = get_logger(__name__)

RUNS = "runs"
SETTLE_DUE_INDEX = "settle_due"  # ISO date of the run's earliest pending settlement, or None
Command = Callable[[Run], Run]


class SettlementHandlers:
    def __init__(
        self,
        store: DocumentStore,
        clock: Clock,
        policy: SettlementPolicy,
        producer: str,
        *,
        sweep_page: int = 200,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policy = policy
        self.producer = producer
        self.sweep_page = sweep_page

    # ---- input topics ---------------------------------------------------------------------

    async def optimization_ready(self, event: OptimizationReady) -> bool:
        orders, skipped = messages.planned_orders(event), messages.skipped_orders(event)

        def plan(run: Run) -> Run:
            planned = run.plan(
                orders,
                skipped,
                run_type=event.run_type.value,
                broker_integration=event.broker_integration.value,
                account_id=event.account_id,
            )
            if planned.unplanned_legs:
                # Facts received before the plan for legs it does not contain: a producer bug.
                # They cannot be dead-lettered any more; they are kept and take no part.
                log.warning("fills/closes for legs not in the plan", legs=planned.unplanned_legs)
            return planned

        return await self._record(event, event.optimization_id, event.portfolio_id, plan)

    async def order_filled(self, event: OrderFilled) -> bool:
        self._check_trade_date(event)

        def fill(run: Run) -> Run:
            self._check_order_identity(run, event.leg, event.symbol, event.side.value)
            return run.record_fill(
                event.leg,
                event.filled_qty,
                event.filled_avg_price,
                event.trade_date,
                event.filled_at,
                # `filled` = the broker is done with the order; for qty orders the domain also
                # counts a cumulative quantity reaching the planned one as complete.
                fully_filled=event.status == "filled",
            )

        return await self._record(event, event.run_id, event.portfolio_id, fill)

    async def order_closed(self, event: OrderClosed) -> bool:
        def close(run: Run) -> Run:
            self._check_order_identity(run, event.leg, event.symbol, event.side.value)
            reason = CloseReason(event.status.value)
            return run.record_close(event.leg, reason, event.filled_qty, event.closed_at)

        return await self._record(event, event.run_id, event.portfolio_id, close)

    # ---- clock-driven ---------------------------------------------------------------------

    async def settle_due(self, now: datetime | None = None) -> int:
        """Settle every run whose next settlement date is on or before today's date of the
        exchange. Returns how many events (transaction.settled, run.completed) it produced."""
        moment = now if now is not None else self.clock.now()
        today = self.policy.today(moment).isoformat()
        produced = 0
        after: str | None = None
        while True:
            ids = await self.store.query(
                RUNS, SETTLE_DUE_INDEX, today, op="le", after_id=after, limit=self.sweep_page
            )
            for run_id in ids:
                produced += await self._sweep_run(run_id, moment)
            if len(ids) < self.sweep_page:
                return produced
            after = ids[-1]

    async def _sweep_run(self, run_id: str, now: datetime) -> int:
        published: list[int] = [0]

        async def mutate(doc: Document | None) -> Change | None:
            if doc is None:
                return None
            run = run_from_document(doc.state)
            try:
                progress = advance(run, now, self.policy)
            except LookupError as error:  # a trade date beyond the loaded calendar
                log.error("cannot settle run", run_id=run_id, error=str(error))
                return None
            if not progress.changed:
                return None
            change = self._change(progress, now, envelope=self._envelope(run.run_id, None))
            published[0] = len(change.publish)
            return change

        await apply_once(self.store, RUNS, run_id, None, mutate)
        return published[0]

    # ---- common ---------------------------------------------------------------------------

    async def _record(self, event: Event, run_id: str, portfolio_id: str, command: Command) -> bool:
        """Apply `command` to the run and move it forward; False when the event was seen."""
        now = self.clock.now()
        what = f"{event.event_type} {event.event_id} (run {run_id})"

        async def mutate(doc: Document | None) -> Change | None:
            run = run_from_document(doc.state) if doc else Run(run_id, portfolio_id)
            if run.portfolio_id != portfolio_id:
                raise PoisonMessage(
                    f"{what}: portfolio {portfolio_id} but the run belongs to {run.portfolio_id}"
                )
            try:
                changed = command(run)
            except DuplicateEvent as duplicate:
                log.info("duplicate fact; no-op", run_id=run_id, detail=str(duplicate))
                return None
            except (IllegalTransition, InvalidEvent) as error:
                raise PoisonMessage(f"{what}: {error}") from error
            try:
                progress = advance(changed, now, self.policy)
            except LookupError as error:
                raise PoisonMessage(f"{what}: {error}") from error
            return self._change(progress, now, envelope=self._envelope(run_id, event))

        return await apply_once(self.store, RUNS, run_id, event.event_id, mutate)

    def _change(self, progress: Progress, now: datetime, envelope: dict[str, Any]) -> Change:
        run = progress.run
        publish: list[Event] = [
            messages.transaction_settled(run, tx, now, envelope) for tx in progress.settled
        ]
        if progress.completion is not None:
            publish.append(messages.run_completed(run, progress.completion, now, envelope))
            log.info("run completed", run_id=run.run_id, status=progress.completion.status.value)
        due = progress.next_settlement
        return Change(
            run_to_document(run),
            publish=publish,
            index={SETTLE_DUE_INDEX: due.isoformat() if due else None},
        )

    def _envelope(self, run_id: str, cause: Event | None) -> dict[str, Any]:
        if cause is None:
            return {"producer": self.producer, "correlation_id": run_id}
        return cause.caused(producer=self.producer, correlation_id=run_id)

    def _check_trade_date(self, event: OrderFilled) -> None:
        """A trade date the calendar cannot settle would block the run later: refuse it now."""
        cycles = self.policy.cycles
        longest = max([cycles.default_days, *cycles.by_asset_class.values()])
        try:
            settlement_date(event.trade_date, longest, self.policy.calendar)
        except (LookupError, ValueError) as error:
            raise PoisonMessage(
                f"{event.event_type} {event.event_id}: trade date {event.trade_date}: {error}"
            ) from error

    @staticmethod
    def _check_order_identity(run: Run, leg: int, symbol: str, side: str) -> None:
        for order in run.orders or ():
            if order.leg == leg and (order.symbol, order.side.value) != (symbol, side):
                raise PoisonMessage(
                    f"run {run.run_id} leg {leg}: event is for {side} {symbol} but the plan "
                    f"has {order.side.value} {order.symbol}"
                )
