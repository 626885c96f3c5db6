"""A Run as one store document (collection `runs`, id = run id): a JSON dict, decimals as strings.

The document holds the run's FACTS (plan, best-known fill and close per leg, settlement dates)
and its lifecycle (status reached, when, what was reported); `run_from_document` rebuilds exactly
the Run that was saved. It also carries views derived from those (`status`, `completed`,
`settled`, `transactions`), for people and tools reading the store; they are rewritten on every
save and ignored on load, so they can never disagree with the facts. A version 1 document
(before the lifecycle) is read too, and so is one written before late fills settled apart from
the run (`_late_settlements`), or before cancels read ahead of their run were kept on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from rebal_runtime.repository import DocumentMapper, Repository
from rebal_runtime.store import DocumentStore
from rebal_runtime.store.port import IndexValue
from rebal_settlement_tracker.adapters import run_json as js
from rebal_settlement_tracker.domain import KeptCancel, Run, RunLifecycle, RunStatus, RunTerms
from rebal_settlement_tracker.domain.plan import SYSTEM
from rebal_settlement_tracker.service_layer.run_records import Refusal, RunRecord

JsonDict = js.JsonDict
DOCUMENT_VERSION = 2  # 1: before the run lifecycle (read, and written back as 2)
RUNS = "runs"
REFUSALS = "refusals"  # requests refused without a run to record them on, by request event id
EARLY_LETTERS = "early_letters"  # run document field: event id -> dead letter of an early fact
# run document field: how run.completed and run.settled were published, to publish the same
# events again if the broker loses them (`rereport.py`)
REPORTS = "reports"
LEGACY_COMPLETION_REPORT = "completion_report"  # version 1's record of its run.completed
COMPLETED = "run.completed"


def record_to_document(record: RunRecord) -> JsonDict:
    state = run_to_document(record.run)
    if record.letters:
        state[EARLY_LETTERS] = record.letters
    if record.reports:
        state[REPORTS] = record.reports
    return state


def record_from_document(state: JsonDict) -> RunRecord:
    reports = {kind: dict(report) for kind, report in (state.get(REPORTS) or {}).items()}
    legacy = state.get(LEGACY_COMPLETION_REPORT)
    if legacy and COMPLETED not in reports:
        reports[COMPLETED] = {
            "event_id": legacy["event_id"],
            "causation_id": legacy.get("causation_id"),
            "at": legacy["completed_at"],
        }
    return RunRecord(run_from_document(state), dict(state.get(EARLY_LETTERS) or {}), reports)


def run_repository(store: DocumentStore) -> Repository[RunRecord]:
    """Runs by run id; the index values come with each outcome (they need the calendar)."""
    return Repository(store, RUNS, RunMapper())


class RunMapper:
    """`record_to_document` / `record_from_document`, remembering the documents it wrote.

    A run in flight is read back by each batch that has a fact for it: when the document read is
    the very one this process wrote (equal state), the record it was written from is returned
    instead of being rebuilt from JSON (and its transactions derived again). Any other state (a
    document another writer changed) is mapped as usual. Settled runs are forgotten, and at most
    `size` runs are kept (the oldest written go first)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._written: dict[str, tuple[JsonDict, RunRecord]] = {}  # by run id, oldest first

    def index(self, aggregate: RunRecord) -> Mapping[str, IndexValue]:
        return {}  # the index values come with each outcome

    def to_document(self, aggregate: RunRecord) -> JsonDict:
        state = record_to_document(aggregate)
        written, run = self._written, aggregate.run
        written.pop(run.run_id, None)  # re-inserted last: the newest write
        if run.lifecycle.settled_at is None:
            written[run.run_id] = (state, aggregate)
            if len(written) > self._size:
                del written[next(iter(written))]
        return state

    def from_document(self, state: JsonDict) -> RunRecord:
        known = self._written.get(state.get("run_id", ""))
        if known is not None and known[0] == state:
            record = known[1]
            # as `record_from_document` gives them: the caller's own dicts
            reports = {kind: dict(report) for kind, report in record.reports.items()}
            return RunRecord(record.run, dict(record.letters), reports)
        return record_from_document(state)


def refusal_repository(store: DocumentStore) -> Repository[Refusal]:
    """Refused requests by the request's event id."""
    return Repository(store, REFUSALS, DocumentMapper(_refusal_to_json, _refusal_from_json))


def run_to_document(run: Run) -> JsonDict:
    terms = run.terms
    return {
        "document_version": DOCUMENT_VERSION,
        "run_id": run.run_id,
        "portfolio_id": run.portfolio_id,
        "account_id": terms.account_id,
        "run_type": terms.run_type,
        "broker_integration": terms.broker_integration,
        "initiated_from": terms.initiated_from,
        "weights": [js.weight_to_json(w) for w in terms.weights],
        "amount": js.decimal(terms.amount),
        "retry_of": terms.retry_of,
        "orders": None if run.orders is None else [js.order_to_json(o) for o in run.orders],
        "skipped_orders": [js.skipped_to_json(s) for s in run.skipped_orders],
        "fills": {str(leg): js.fill_to_json(f) for leg, f in sorted(run.fills.items())},
        "closes": {str(leg): js.close_to_json(c) for leg, c in sorted(run.closes.items())},
        "settlements": _dates_to_json(run.settlements),
        "pending": [js.pending_to_json(p) for p in run.pending],
        "rejections": [js.rejection_to_json(r) for r in run.rejections],
        "rejected_facts": len(run.rejections),
        "execution_starts_at": js.instant(run.execution_starts_at),
        "execution_started_at": js.instant(run.execution_started_at),
        "cancel_requested_at": js.instant(run.cancel_requested_at),
        "cancel_request_id": run.cancel_request_id,
        "kept_cancels": [_kept_cancel_to_json(c) for c in run.kept_cancels],
        "stop": js.stop_to_json(run.stop),
        "late_fills": {str(leg): js.fill_to_json(f) for leg, f in sorted(run.late_fills.items())},
        "late_settlements": _dates_to_json(run.late_settlements),
        "lifecycle": js.lifecycle_to_json(run.lifecycle),
        # views for people and tools reading the store, ignored on load
        "canceled_at": js.instant(run.canceled_at),
        "status": run.status.value,
        "completed": run.is_completed,
        "settled": run.lifecycle.settled_at is not None,
        "transactions": [js.transaction_view(tx) for _, tx in sorted(run.transactions.items())],
        "late_transactions": [
            js.transaction_view(tx) for _, tx in sorted(run.late_transactions.items())
        ],
    }


def run_from_document(state: Mapping[str, Any]) -> Run:
    version = state.get("document_version")
    if version not in (1, DOCUMENT_VERSION):
        raise ValueError(f"run document version {version!r} is not {DOCUMENT_VERSION}")
    orders = state["orders"]
    late_fills = {int(leg): js.fill_from_json(f) for leg, f in state.get("late_fills", {}).items()}
    settlements, late_settlements = _late_settlements(state, late_fills.keys())
    run = Run(
        run_id=state["run_id"],
        portfolio_id=state["portfolio_id"],
        terms=RunTerms(
            run_type=state["run_type"],
            broker_integration=state["broker_integration"],
            account_id=state["account_id"],
            initiated_from=state.get("initiated_from", SYSTEM),
            weights=tuple(js.weight_from_json(w) for w in state.get("weights", ())),
            amount=js.parse_decimal(state.get("amount")),
            retry_of=state.get("retry_of"),  # a document older than retries: none
        ),
        orders=None if orders is None else tuple(js.order_from_json(o) for o in orders),
        skipped_orders=tuple(js.skipped_from_json(s) for s in state["skipped_orders"]),
        fills={int(leg): js.fill_from_json(f) for leg, f in state["fills"].items()},
        closes={int(leg): js.close_from_json(c) for leg, c in state["closes"].items()},
        settlements=settlements,
        # absent from documents written before early facts were kept apart and judged
        pending=tuple(js.pending_from_json(p) for p in state.get("pending", ())),
        rejections=tuple(js.rejection_from_json(r) for r in state.get("rejections", ())),
        execution_starts_at=js.parse_instant(state.get("execution_starts_at")),
        execution_started_at=js.parse_instant(state.get("execution_started_at")),
        cancel_requested_at=js.parse_instant(state.get("cancel_requested_at")),
        cancel_request_id=state.get("cancel_request_id"),
        # absent from documents written before cancels were kept for runs not planned yet
        kept_cancels=tuple(_kept_cancel_from_json(c) for c in state.get("kept_cancels", ())),
        stop=js.stop_from_json(state["stop"]) if "stop" in state else js.legacy_stop(state),
        late_fills=late_fills,
        late_settlements=late_settlements,
    )
    if version == 1:
        return replace(run, lifecycle=_lifecycle_of_version_1(run, state))
    return replace(run, lifecycle=js.lifecycle_from_json(state["lifecycle"]))


def _dates_to_json(dates: Mapping[int, date]) -> JsonDict:
    return {str(leg): day.isoformat() for leg, day in sorted(dates.items())}


def _dates_from_json(data: Mapping[str, str]) -> dict[int, date]:
    return {int(leg): date.fromisoformat(day) for leg, day in data.items()}


def _late_settlements(
    state: Mapping[str, Any], late_legs: Iterable[int]
) -> tuple[dict[int, date], dict[int, date]]:
    """The settlements of the run's legs and of its late fills. Before they were kept apart, a
    late fill was only ever of a leg with no fill of its own: that leg's one settlement was the
    late fill's."""
    settlements = _dates_from_json(state["settlements"])
    if "late_settlements" in state:
        return settlements, _dates_from_json(state["late_settlements"])
    late = {leg: settlements.pop(leg) for leg in late_legs if leg in settlements}
    return settlements, late


def _lifecycle_of_version_1(run: Run, state: Mapping[str, Any]) -> RunLifecycle:
    """Version 1 kept only `completed` and `final_status`, and completed a run once every
    transaction was final under its `unblock_on`: what it reported is taken as said."""
    if not state["completed"]:
        return RunLifecycle()  # run.created and what follows are published from now on
    report = state.get(LEGACY_COMPLETION_REPORT) or {}
    completed_at = js.parse_instant(report.get("completed_at"))
    settled = all(tx.is_final for tx in run.transactions.values())
    return RunLifecycle(
        status=RunStatus(state["final_status"]),
        created_at=completed_at,
        updated_at=completed_at,
        completed_at=completed_at,
        settled_at=completed_at if settled else None,
        settled_when_completed=frozenset(run.settlements),
    )


def _kept_cancel_to_json(kept: KeptCancel) -> JsonDict:
    return {
        "request_id": kept.request_id,
        "portfolio_id": kept.portfolio_id,
        "reason": kept.reason,
        "recorded_at": kept.recorded_at.isoformat(),
    }


def _kept_cancel_from_json(data: Mapping[str, Any]) -> KeptCancel:
    return KeptCancel(
        data["request_id"],
        data["portfolio_id"],
        data["reason"],
        datetime.fromisoformat(data["recorded_at"]),
    )


def _refusal_to_json(refusal: Refusal) -> JsonDict:
    return {
        "request_event_id": refusal.request_event_id,
        "run_id": refusal.run_id,
        "portfolio_id": refusal.portfolio_id,
        "reason_code": refusal.reason_code,
    }


def _refusal_from_json(data: JsonDict) -> Refusal:
    return Refusal(
        data["request_event_id"], data["run_id"], data["portfolio_id"], data["reason_code"]
    )
