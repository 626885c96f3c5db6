"""Handlers of the settlement-tracker: one per input topic, plus the clock-driven sweep.

Each run is ONE document (id = run id = optimization id), a `RunRecord` written through the
runtime's `Repository.update`: the new facts, the processed event id and the events to publish
commit together.
PLATFORM fills (order-router) and CLIENT fills (the client's middleware) arrive on the same
topics with the same shape; they differ in who may vouch for them (`domain/acceptance.py`: a
PLATFORM fact must carry the order-router's signature when the deployment verifies signatures).

Fate of an input, decided by the domain:
- new fact              -> recorded; whatever is due settles; run.completed when all is final;
- duplicate / stale     -> no-op (the event id is still recorded);
- refused by a check    -> FactRejectedMessage (dead.letter) with the reason, counted: unsigned
  (provenance, order,      PLATFORM fact, wrong symbol or side, above the order's quantity or
  quantity, price)         notional, price out of band, a leg the plan does not contain;
- early fact (no plan)  -> kept with its dead letter prepared; judged when the plan arrives, the
                           refused ones then published to dead.letter through the outbox, counted;
- contradiction         -> PoisonMessage with the reason (dead.letter), e.g. a fill that would
                           change a completed run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome
from rebal_schemas import Event, OptimizationReady, OrderClosed, OrderFilled, PoisonMessage
from rebal_settlement_tracker.domain import (
    AcceptancePolicy,
    CloseReason,
    DuplicateEvent,
    FactRejected,
    FactSource,
    IllegalTransition,
    InvalidEvent,
    Progress,
    Rejection,
    Run,
    SettlementPolicy,
    Side,
    advance,
    settlement_date,
)
from rebal_settlement_tracker.service_layer import messages
from rebal_settlement_tracker.service_layer.provenance import (
    FactRejectedMessage,
    Provenance,
    letter_from_event,
    letter_template,
    rejection_letter,
)
from rebal_settlement_tracker.service_layer.run_records import (
    COMPLETED_DAY_INDEX,
    SETTLE_DUE_INDEX,
    Letters,
    RunRecord,
    RunRepository,
)

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
        acceptance: AcceptancePolicy | None = None,
        sweep_page: int = 200,
    ) -> None:
        self.runs = runs
        self.clock = clock
        self.policy = policy
        self.acceptance = acceptance if acceptance is not None else AcceptancePolicy()
        self.producer = producer
        self.sweep_page = sweep_page
        #: Fills and closes refused by a check, by reason code, since start (also logged).
        self.rejected: Counter[str] = Counter()

    # ---- input topics ---------------------------------------------------------------------

    async def optimization_ready(self, event: OptimizationReady) -> bool:
        orders, skipped = messages.planned_orders(event), messages.skipped_orders(event)

        def plan(run: Run) -> Run:
            return run.plan(
                orders,
                skipped,
                run_type=event.run_type.value,
                broker_integration=event.broker_integration.value,
                account_id=event.account_id,
                policy=self.acceptance,
            )

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
            )

        return await self._record(event, event.run_id, event.portfolio_id, close, provenance)

    # ---- clock-driven ---------------------------------------------------------------------

    async def settle_due(self, now: datetime | None = None) -> int:
        """Settle every run whose next settlement date is on or before today's date of the
        exchange. Returns how many events (transaction.settled, run.completed) it produced."""
        moment = now if now is not None else self.clock.now()
        today = self.policy.today(moment).isoformat()
        produced = 0
        after: str | None = None
        while True:
            ids = await self.runs.query(
                SETTLE_DUE_INDEX, today, op="le", after_id=after, limit=self.sweep_page
            )
            for run_id in ids:
                produced += await self._sweep_run(run_id, moment)
            if len(ids) < self.sweep_page:
                return produced
            after = ids[-1]

    async def _sweep_run(self, run_id: str, now: datetime) -> int:
        published: list[int] = [0]

        def sweep(record: RunRecord | None) -> Outcome[RunRecord] | None:
            if record is None:
                return None
            run = record.run
            try:
                progress = advance(run, now, self.policy)
            except LookupError as error:  # a trade date beyond the loaded calendar
                log.error("cannot settle run", run_id=run_id, error=str(error))
                return None
            if not progress.changed:
                return None
            envelope = self._envelope(run.run_id, None)
            letters = dict(record.letters)
            change = self._change(progress, now, envelope, letters, report=_report(record))
            published[0] = len(change.publish)
            return change

        await self.runs.update(run_id, None, sweep)
        return published[0]

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
            run = record.run if record else Run(run_id, portfolio_id)
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
            return self._change(progress, now, envelope, letters, refused, _report(record))

        applied = await self.runs.apply(run_id, event.event_id, record_fact)
        for rejection in refused:
            self._count(rejection.code.value, run_id, rejection.event_id, rejection.detail)
        return applied

    def _change(
        self,
        progress: Progress,
        now: datetime,
        envelope: dict[str, Any],
        letters: Letters,
        refused: Sequence[Rejection] = (),
        report: dict[str, Any] | None = None,
    ) -> Outcome[RunRecord]:
        run = progress.run
        publish: list[Event] = []
        if run.is_planned:
            # The plan judged the early facts: publish the refused ones' letters, drop the rest.
            for rejection in refused:
                template = letters.get(rejection.event_id or "")
                if template is None:  # only a document written before letters were kept
                    log.warning("refused early fact has no letter", event_id=rejection.event_id)
                    continue
                publish.append(rejection_letter(template, rejection, run.run_id, now))
            letters = {}
        publish += [messages.transaction_settled(run, tx, now, envelope) for tx in progress.settled]
        if progress.completion is not None:
            completed = messages.run_completed(run, progress.completion, now, envelope)
            publish.append(completed)
            report = {
                "event_id": completed.event_id,
                "causation_id": completed.causation_id,
                "completed_at": completed.completed_at.isoformat(),
                "completed_day": completed.completed_at.astimezone(UTC).date().isoformat(),
            }
            log.info("run completed", run_id=run.run_id, status=progress.completion.status.value)
        due = progress.next_settlement
        return Outcome(
            RunRecord(run, letters, report),
            publish=publish,
            index={
                SETTLE_DUE_INDEX: due.isoformat() if due else None,
                COMPLETED_DAY_INDEX: report["completed_day"] if report else None,
            },
        )

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


def _report(record: RunRecord | None) -> dict[str, Any] | None:
    report = record.report if record else None
    return dict(report) if report else None
