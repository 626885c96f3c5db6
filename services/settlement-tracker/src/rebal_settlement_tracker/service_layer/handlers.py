"""Handlers of the settlement-tracker: one per input topic, plus the clock-driven sweep.

Each run is ONE document (id = run id = optimization id), a `RunRecord` written through the
runtime's `Repository.update`: the new facts, the processed event id and the events to publish
commit together.
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
from collections.abc import Callable
from datetime import datetime
from typing import Any

from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome, Step
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
    DuplicateEvent,
    FactRejected,
    FactSource,
    IllegalTransition,
    InvalidEvent,
    Rejection,
    Run,
    SettlementPolicy,
    Side,
    advance,
    apply_kept_cancels,
    claimed_by,
    settlement_date,
    time_out_if_due,
)
from rebal_settlement_tracker.service_layer import cancels, messages
from rebal_settlement_tracker.service_layer.execution import RunExecution, execution_command
from rebal_settlement_tracker.service_layer.provenance import (
    FactRejectedMessage,
    Provenance,
    letter_from_event,
    letter_template,
)
from rebal_settlement_tracker.service_layer.publishing import run_outcome
from rebal_settlement_tracker.service_layer.run_records import (
    KEPT_CANCEL_DUE_INDEX,
    SETTLE_DUE_INDEX,
    TIMEOUT_DUE_INDEX,
    Letters,
    RefusalRepository,
    RunRecord,
    RunRepository,
    instant_key,
)
from rebal_settlement_tracker.service_layer.sweeps import advance_step, sweep_due

log = get_logger(__name__)

Command = Callable[[Run], Run]


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
        #: Fills and closes refused by a check, by reason code, since start (also logged).
        self.rejected: Counter[str] = Counter()
        #: Runs a sweep could not move, by the index it found them by, since start (also logged).
        self.sweep_failures: Counter[str] = Counter()

    # ---- input topics ---------------------------------------------------------------------

    async def optimization_ready(self, event: OptimizationReady) -> bool:
        orders, skipped = messages.planned_orders(event), messages.skipped_orders(event)
        terms = messages.run_terms(event)

        def plan(run: Run) -> Run:
            planned = run.plan(
                orders, skipped, terms, created_at=event.occurred_at, policy=self.acceptance
            )
            return apply_kept_cancels(planned, self.clock.now())  # read before it: apply now

        return await self._record(event, event.optimization_id, event.portfolio_id, plan)

    async def order_filled(self, event: OrderFilled, provenance: Provenance | None = None) -> bool:
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

        return await self._record(event, event.run_id, event.portfolio_id, fill, provenance)

    async def order_closed(self, event: OrderClosed, provenance: Provenance | None = None) -> bool:
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

        return await self._record(event, event.run_id, event.portfolio_id, close, provenance)

    async def run_cancel_requested(self, event: RunCancelRequested) -> bool:
        return await cancels.answer_cancel(
            self.runs, self.refusals, event, self.clock.now(), self.producer, self.policy
        )

    async def run_execution(
        self, event: RunExecution, provenance: Provenance | None = None
    ) -> bool:
        command = execution_command(event, provenance, self.acceptance)
        return await self._record(event, event.run_id, event.portfolio_id, command)

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

    async def _record(
        self,
        event: Event,
        run_id: str,
        portfolio_id: str,
        command: Command,
        provenance: Provenance | None = None,
    ) -> bool:
        """Apply `command` to the run and move it forward; False when the event was seen."""
        now = self.clock.now()
        what = f"{event.event_type} {event.event_id} (run {run_id})"
        refused: list[Rejection] = []  # of the attempt that committed: counted after the commit

        def record_fact(record: RunRecord | None) -> Outcome[RunRecord] | None:
            refused.clear()
            run = claimed_by(record.run if record else Run(run_id, portfolio_id), portfolio_id)
            if run.portfolio_id != portfolio_id:
                raise PoisonMessage(
                    f"{what}: portfolio {portfolio_id} but the run belongs to {run.portfolio_id}"
                )
            try:
                changed = command(run)
            except DuplicateEvent as duplicate:
                log.info("duplicate fact; no-op", run_id=run_id, detail=str(duplicate))
                return None
            except FactRejected as rejected:
                self._count(rejected.code.value, run_id, event.event_id, rejected.detail)
                raise FactRejectedMessage(f"{what}: {rejected.code.value}: {rejected}") from None
            except (IllegalTransition, InvalidEvent) as error:
                raise PoisonMessage(f"{what}: {error}") from error
            try:
                progress = advance(changed, now, self.policy)
            except LookupError as error:
                raise PoisonMessage(f"{what}: {error}") from error
            letters: Letters = dict(record.letters) if record else {}
            if any(
                p.source is not None and p.source.event_id == event.event_id
                for p in changed.pending
            ):
                letter = provenance.letter if provenance and provenance.letter else None
                letter = letter or letter_from_event(event, self.producer, now)
                letters[event.event_id] = letter_template(letter)
            if changed.is_planned and not run.is_planned:
                refused.extend(changed.rejections[len(run.rejections) :])
            envelope = self._envelope(run_id, event)
            reports = record.reports if record else {}
            return run_outcome(progress, now, envelope, letters, reports, refused)

        applied = await self.runs.apply(run_id, event.event_id, record_fact)
        for rejection in refused:
            self._count(rejection.code.value, run_id, rejection.event_id, rejection.detail)
        return applied

    def _count(self, code: str, run_id: str, event_id: str | None, detail: str) -> None:
        self.rejected[code] += 1
        log.warning(
            "fact rejected",
            reason=code,
            run_id=run_id,
            rejected_event_id=event_id,
            detail=detail[:500],
            rejected_total=self.rejected.total(),
        )

    @staticmethod
    def _source(event: Event, symbol: str, side: str, provenance: Provenance | None) -> FactSource:
        known = provenance or Provenance()
        return FactSource(event.event_id, symbol, Side(side), known.signer, known.signature)

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
