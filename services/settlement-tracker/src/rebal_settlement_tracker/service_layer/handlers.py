"""Handlers of the settlement-tracker: one per input topic, plus the clock-driven sweep.

Each run is ONE document (id = run id = optimization id), a `RunRecord` written through the
runtime's `Repository` (`recording.py`): the new facts, the processed event id and the events to
publish commit together. The hot inputs (optimization.ready, order.filled, order.closed,
run.execution) also come as a batch subscriber's list (`*_batch`): one store read and one write
for it all, a run's events applied in order in one step, each event id still in its inbox.
PLATFORM fills (order-router) and CLIENT fills (the client's middleware) arrive on the same
topics with the same shape; they differ in who may vouch for them (`domain/acceptance.py`: a
PLATFORM fact must carry the order-router's signature when the deployment verifies signatures).

Fate of an input, decided by the domain:
- new fact              -> recorded; whatever is due settles; each status change the facts call
                           for is published (run.created at the plan, IN_PROGRESS at the first
                           order event, the final status with run.completed once every order is
                           final), then run.settled once every transaction is (`publishing.py`);
- duplicate / stale     -> no-op (the event id is still recorded);
- refused by a check    -> FactRejectedMessage (dead.letter) with the reason, counted: unsigned
  (provenance, order,      PLATFORM fact, wrong symbol or side, above the order's quantity or
  quantity, price)         notional, price out of band, a leg the plan does not contain;
- early fact (no plan)  -> kept with its dead letter prepared; judged when the plan arrives, the
                           refused ones then published to dead.letter through the outbox, counted;
- contradiction         -> PoisonMessage with the reason (dead.letter), e.g. a fill that would
                           change a completed run.
A cancel request is answered by `cancels.py` (one read before its run's plan is kept, applied by
the plan); the order-router's run.execution reports are commands of `execution.py`. The sweep
settles what is due, times out the runs whose deadline passed (`domain/deadline.py`) and refuses
the kept cancels whose run never came, each found through an index of the run documents.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TypeAlias, TypeVar

from rebal_runtime.clock import Clock
from rebal_runtime.repository import Step
from rebal_schemas import (
    Event,
    OptimizationReady,
    OrderClosed,
    OrderFilled,
    PoisonMessage,
    RunCancelRequested,
)
from rebal_settlement_tracker.domain import (
    AcceptancePolicy,
    CloseReason,
    FactSource,
    Run,
    SettlementPolicy,
    Side,
    apply_kept_cancels,
    settlement_date,
    time_out_if_due,
)
from rebal_settlement_tracker.service_layer import cancels, messages
from rebal_settlement_tracker.service_layer.execution import RunExecution, execution_command
from rebal_settlement_tracker.service_layer.provenance import Provenance
from rebal_settlement_tracker.service_layer.recording import Fact, FactRecorder
from rebal_settlement_tracker.service_layer.run_records import (
    KEPT_CANCEL_DUE_INDEX,
    SETTLE_DUE_INDEX,
    TIMEOUT_DUE_INDEX,
    RefusalRepository,
    RunRecord,
    RunRepository,
    instant_key,
)
from rebal_settlement_tracker.service_layer.sweeps import advance_step, sweep_due

Provenances = Sequence[Provenance | None]
RunFact: TypeAlias = OptimizationReady | OrderFilled | OrderClosed | RunExecution
"""An event of the hot topics: a fact about one run, recorded on its document."""
E = TypeVar("E", bound=Event)


class SettlementHandlers:
    def __init__(
        self,
        runs: RunRepository,
        clock: Clock,
        policy: SettlementPolicy,
        producer: str,
        *,
        refusals: RefusalRepository,
        acceptance: AcceptancePolicy | None = None,
        sweep_page: int = 200,
    ) -> None:
        self.runs = runs
        self.refusals = refusals
        self.clock = clock
        self.policy = policy
        self.acceptance = acceptance if acceptance is not None else AcceptancePolicy()
        self.producer = producer
        self.sweep_page = sweep_page
        self.recorder = FactRecorder(runs, policy, producer)
        #: Fills and closes refused by a check, by reason code, since start (also logged).
        self.rejected: Counter[str] = self.recorder.rejected
        #: Runs a sweep could not move, by the index it found them by, since start (also logged).
        self.sweep_failures: Counter[str] = Counter()

    # ---- input topics: one event (False when it was seen before), or a batch in order ------

    async def optimization_ready(self, event: OptimizationReady) -> bool:
        return await self.recorder.record(self._planned(event), self.clock.now())

    async def order_filled(self, event: OrderFilled, provenance: Provenance | None = None) -> bool:
        return await self.recorder.record(self._filled(event, provenance), self.clock.now())

    async def order_closed(self, event: OrderClosed, provenance: Provenance | None = None) -> bool:
        return await self.recorder.record(self._closed(event, provenance), self.clock.now())

    async def run_cancel_requested(self, event: RunCancelRequested) -> bool:
        return await cancels.answer_cancel(
            self.runs, self.refusals, event, self.clock.now(), self.producer, self.policy
        )

    async def run_execution(
        self, event: RunExecution, provenance: Provenance | None = None
    ) -> bool:
        return await self.recorder.record(self._executed(event, provenance), self.clock.now())

    async def record_batch(self, events: Sequence[RunFact], provenances: Provenances = ()) -> None:
        """A batch of the hot topics' events, of any of them mixed, in the order they came."""
        await self.recorder.record_many(
            [self._fact(e, p) for e, p in _with(events, provenances)], self.clock.now()
        )

    # ---- the facts of the input topics --------------------------------------------------

    def _fact(self, event: RunFact, provenance: Provenance | None) -> Fact:
        if isinstance(event, OptimizationReady):
            return self._planned(event)
        if isinstance(event, OrderFilled):
            return self._filled(event, provenance)
        if isinstance(event, OrderClosed):
            return self._closed(event, provenance)
        return self._executed(event, provenance)

    def _planned(self, event: OptimizationReady) -> Fact:
        orders, skipped = messages.planned_orders(event), messages.skipped_orders(event)
        terms = messages.run_terms(event)

        def plan(run: Run) -> Run:
            planned = run.plan(
                orders, skipped, terms, created_at=event.occurred_at, policy=self.acceptance
            )
            return apply_kept_cancels(planned, self.clock.now())  # read before it: apply now

        return Fact(event, event.optimization_id, event.portfolio_id, plan)

    def _filled(self, event: OrderFilled, provenance: Provenance | None) -> Fact:
        self._check_trade_date(event)
        source = self._source(event, event.symbol, event.side.value, provenance)

        def fill(run: Run) -> Run:
            return run.record_fill(
                event.leg,
                event.filled_qty,
                event.filled_avg_price,
                event.trade_date,
                event.filled_at,
                # `filled` = the broker is done with the order; for qty orders the domain also
                # counts a cumulative quantity reaching the planned one as complete.
                fully_filled=event.status == "filled",
                source=source,
                policy=self.acceptance,
                ref=messages.order_ref(event),
            )

        return Fact(event, event.run_id, event.portfolio_id, fill, provenance)

    def _closed(self, event: OrderClosed, provenance: Provenance | None) -> Fact:
        source = self._source(event, event.symbol, event.side.value, provenance)

        def close(run: Run) -> Run:
            reason = CloseReason(event.status.value)
            return run.record_close(
                event.leg,
                reason,
                event.filled_qty,
                event.closed_at,
                source=source,
                policy=self.acceptance,
                ref=messages.order_ref(event),
                run_canceled=event.run_canceled,
            )

        return Fact(event, event.run_id, event.portfolio_id, close, provenance)

    def _executed(self, event: RunExecution, provenance: Provenance | None) -> Fact:
        command = execution_command(event, provenance, self.acceptance)
        return Fact(event, event.run_id, event.portfolio_id, command)

    # ---- clock-driven ---------------------------------------------------------------------

    async def settle_due(self, now: datetime | None = None) -> int:
        """Settle every run whose next settlement date is on or before today's date of the
        exchange. Returns how many events (transaction.settled, status changes, run.completed,
        run.settled) it produced."""
        moment = now if now is not None else self.clock.now()
        step = advance_step(moment, self.policy, self.producer)
        return await self._sweep(SETTLE_DUE_INDEX, self.policy.today(moment).isoformat(), step)

    async def time_out_due(self, now: datetime | None = None) -> int:
        """End TIMEOUT every run whose deadline passed with outcomes still unknown; returns how
        many events it produced."""
        moment = now if now is not None else self.clock.now()
        timeout = self.policy.run_timeout
        step = advance_step(
            moment, self.policy, self.producer, lambda run: time_out_if_due(run, moment, timeout)
        )
        return await self._sweep(TIMEOUT_DUE_INDEX, instant_key(moment), step)

    async def expire_kept_cancels(self, now: datetime | None = None) -> int:
        """Refuse RUN_UNKNOWN every cancel kept for a run whose plan did not come within
        `cancel_wait` (`cancels.py`); returns how many events it produced."""
        moment = now if now is not None else self.clock.now()
        step = cancels.expire_step(moment, self.policy, self.producer)
        return await self._sweep(KEPT_CANCEL_DUE_INDEX, instant_key(moment), step)

    async def _sweep(self, index: str, bound: str, step: Step[RunRecord]) -> int:
        return await sweep_due(self.runs, index, bound, self.sweep_page, step, self.sweep_failures)

    # ---- common ---------------------------------------------------------------------------

    @staticmethod
    def _source(event: Event, symbol: str, side: str, provenance: Provenance | None) -> FactSource:
        known = provenance or Provenance()
        return FactSource(event.event_id, symbol, Side(side), known.signer, known.signature)

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


def _with(events: Sequence[E], provenances: Provenances) -> list[tuple[E, Provenance | None]]:
    """Each event with its provenance (none for any: a direct call without records)."""
    return list(zip(events, provenances or [None] * len(events), strict=True))
