"""Recording an input fact on its run: one event (`record`) or a batch subscriber's list
(`record_many`).

A fact is an event, the run it is about and the command it gives that run (`Fact`). Recording
it applies the command, moves the run forward (`domain.advance`) and commits the new run, the
event id and the events to publish in one write (`publishing.run_outcome`). A batch is one store
read and one write: the facts of one run are applied in order, each on the run the one before
left, and commit together (`Repository.update_many(together=True)`), each event id in the run's
inbox, so a redelivered batch (or a repeat inside one) is applied once. A fact the domain
refuses or finds contradictory raises PoisonMessage, which fails the whole call: the consume
policy then re-runs the batch one event at a time, so that only that one is dead-lettered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from rebal_runtime.log import get_logger
from rebal_runtime.repository import Outcome, Step, Work
from rebal_schemas import Event, PoisonMessage
from rebal_settlement_tracker.domain import (
    DuplicateEvent,
    FactRejected,
    IllegalTransition,
    InvalidEvent,
    Rejection,
    Run,
    SettlementPolicy,
    advance,
    claimed_by,
)
from rebal_settlement_tracker.service_layer.provenance import (
    FactRejectedMessage,
    Provenance,
    letter_from_event,
    letter_template,
)
from rebal_settlement_tracker.service_layer.publishing import run_outcome
from rebal_settlement_tracker.service_layer.run_records import Letters, RunRecord, RunRepository

log = get_logger(__name__)

Command = Callable[[Run], Run]


@dataclass(frozen=True)
class Fact:
    """`event` gives run `run_id` (of `portfolio_id`) `command`; `provenance`: where it came
    from, for a fact that may wait for its run's plan (its dead letter is prepared)."""

    event: Event
    run_id: str
    portfolio_id: str
    command: Command
    provenance: Provenance | None = None


@dataclass
class _Attempt:
    """The step of one fact; what it refused, counted once the outcome is known: the early facts
    its plan refused (when committed), or the fact itself (when it fails the call)."""

    fact: Fact
    refused: list[Rejection] = field(default_factory=list)
    failed: FactRejected | None = None


class FactRecorder:
    def __init__(self, runs: RunRepository, policy: SettlementPolicy, producer: str) -> None:
        self.runs = runs
        self.policy = policy
        self.producer = producer
        #: Facts refused by a check, by reason code, since start (also logged).
        self.rejected: Counter[str] = Counter()

    async def record(self, fact: Fact, now: datetime) -> bool:
        """False when the event was seen before."""
        attempt = _Attempt(fact)
        with self._counting([attempt]):
            return await self.runs.apply(fact.run_id, fact.event.event_id, self._step(attempt, now))

    async def record_many(self, facts: Sequence[Fact], now: datetime) -> None:
        attempts = [_Attempt(fact) for fact in facts]
        works = [Work(a.fact.run_id, a.fact.event.event_id, self._step(a, now)) for a in attempts]
        with self._counting(attempts):
            await self.runs.update_many(works, together=True)

    @contextmanager
    def _counting(self, attempts: Sequence[_Attempt]) -> Iterator[None]:
        """Count each refusal once. A failed call of several facts counts nothing: the consume
        policy handles its events again one at a time, and those calls count."""
        try:
            yield
        except FactRejectedMessage:
            if len(attempts) == 1 and (failed := attempts[0].failed) is not None:
                fact = attempts[0].fact
                self.count(failed.code.value, fact.run_id, fact.event.event_id, failed.detail)
            raise
        for attempt in attempts:
            for rejection in attempt.refused:
                run_id = attempt.fact.run_id
                self.count(rejection.code.value, run_id, rejection.event_id, rejection.detail)

    def _step(self, attempt: _Attempt, now: datetime) -> Step[RunRecord]:
        fact = attempt.fact
        event, run_id, portfolio_id = fact.event, fact.run_id, fact.portfolio_id
        what = f"{event.event_type} {event.event_id} (run {run_id})"

        def record_fact(record: RunRecord | None) -> Outcome[RunRecord] | None:
            attempt.refused.clear()  # a version conflict runs the step again
            run = claimed_by(record.run if record else Run(run_id, portfolio_id), portfolio_id)
            if run.portfolio_id != portfolio_id:
                raise PoisonMessage(
                    f"{what}: portfolio {portfolio_id} but the run belongs to {run.portfolio_id}"
                )
            try:
                changed = fact.command(run)
            except DuplicateEvent as duplicate:
                log.info("duplicate fact; no-op", run_id=run_id, detail=str(duplicate))
                return None
            except FactRejected as rejected:
                attempt.failed = rejected
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
                provenance = fact.provenance
                letter = provenance.letter if provenance and provenance.letter else None
                letter = letter or letter_from_event(event, self.producer, now)
                letters[event.event_id] = letter_template(letter)
            if changed.is_planned and not run.is_planned:
                attempt.refused.extend(changed.rejections[len(run.rejections) :])
            envelope = event.caused(producer=self.producer, correlation_id=run_id)
            reports = record.reports if record else {}
            return run_outcome(progress, now, envelope, letters, reports, attempt.refused)

        return record_fact

    def count(self, code: str, run_id: str, event_id: str | None, detail: str) -> None:
        self.rejected[code] += 1
        log.warning(
            "fact rejected",
            reason=code,
            run_id=run_id,
            rejected_event_id=event_id,
            detail=detail[:500],
            rejected_total=self.rejected.total(),
        )
