"""What a run reuses instead of recomputing: a leg's transaction while its facts stay as they
were, and the record the run mapper wrote while the document read back is that one. Reuse must
never be visible: the results are those of computing afresh."""

from __future__ import annotations

from dataclasses import replace

import orjson

from rebal_settlement_tracker.adapters.run_document import (
    RunMapper,
    record_from_document,
    run_from_document,
    run_to_document,
)
from rebal_settlement_tracker.domain import CloseReason, Run
from rebal_settlement_tracker.service_layer.run_records import RunRecord

from .run_builders import at, complete, fill, planned_run, settle


def afresh(run: Run) -> Run:
    """The same run with nothing derived yet (as a new process would load it)."""
    return run_from_document(orjson.loads(orjson.dumps(run_to_document(run))))


def test_a_command_that_leaves_a_legs_facts_reuses_its_transaction_and_others_derive_anew() -> None:
    run = fill(planned_run(), 0, "4", "200.50")
    before = run.transactions
    moved, _ = complete(run)  # a status move: no leg's facts change
    assert moved.transactions[0] is before[0] and moved.transactions[1] is before[1]
    filled = fill(moved, 1, "5", "400")
    assert filled.transactions[0] is before[0]
    assert filled.transactions[1] is not before[1]
    assert filled.transactions == afresh(filled).transactions


def test_reused_transactions_equal_derived_ones_through_fills_closes_stops_and_settlements() -> (
    None
):
    run = fill(planned_run(), 0, "10", "200.50")
    run = run.record_close(1, CloseReason.CANCELED, run.fills[0].cum_qty * 0, at(5))
    run = complete(settle(run))[0]
    stopped = fill(planned_run(), 0, "4", "200.50").cancel(at(9), "client")
    for each in (run, stopped, settle(stopped)):
        assert each.transactions == afresh(each).transactions
        assert each == afresh(each)


def test_the_mapper_returns_the_record_it_wrote_when_that_document_is_read_back() -> None:
    mapper = RunMapper()
    record = RunRecord(fill(planned_run(), 0, "4", "200.50"), {"e-1": {"x": 1}}, {})
    state = orjson.loads(orjson.dumps(mapper.to_document(record)))  # as a store gives it back
    loaded = mapper.from_document(state)
    assert loaded.run is record.run
    assert loaded == record_from_document(state)
    assert loaded.letters is not record.letters  # the caller's own, as a fresh mapping gives


def test_a_document_another_writer_changed_is_mapped_from_its_state() -> None:
    mapper = RunMapper()
    record = RunRecord(planned_run())
    state = orjson.loads(orjson.dumps(mapper.to_document(record)))
    elsewhere = fill(run_from_document(state), 0, "4", "200.50")
    changed = orjson.loads(orjson.dumps(run_to_document(elsewhere)))
    loaded = mapper.from_document(changed)
    assert loaded.run is not record.run and loaded.run == elsewhere


def test_the_mapper_forgets_settled_runs_and_keeps_at_most_its_size() -> None:
    mapper = RunMapper(size=2)
    states = []
    for run_id in ("r1", "r2", "r3"):
        record = RunRecord(Run(run_id, "pf-1").plan(planned_run().orders or (), created_at=at(0)))
        states.append((record, orjson.loads(orjson.dumps(mapper.to_document(record)))))
    (oldest, oldest_state), *kept = states
    assert mapper.from_document(oldest_state).run is not oldest.run  # forgotten: mapped again
    assert all(mapper.from_document(state).run is record.run for record, state in kept)
    settled_run = kept[0][0].run
    settled_run = replace(settled_run, lifecycle=replace(settled_run.lifecycle, settled_at=at(9)))
    settled_state = orjson.loads(orjson.dumps(mapper.to_document(RunRecord(settled_run))))
    assert mapper.from_document(settled_state).run is not settled_run
    assert mapper.from_document(settled_state).run == settled_run
