"""Run <-> store document: an exact round trip, JSON only, decimals as strings."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from rebal_runtime.calendar import weekday_calendar
from rebal_settlement_tracker.adapters.run_document import (
    record_from_document,
    run_from_document,
    run_to_document,
)
from rebal_settlement_tracker.domain import (
    CloseReason,
    FactSource,
    KeptCancel,
    OrderRef,
    PlannedOrder,
    Run,
    RunStatus,
    RunStop,
    RunTerms,
    SettlementCycles,
    Side,
    SkippedOrder,
    StopKind,
    TargetWeight,
    keep_cancel,
    move_status,
    settle_due,
    settle_run,
)

FRIDAY = date(2026, 11, 20)
MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)
AT = datetime(2026, 11, 20, 15, 30, 1, 123456, tzinfo=UTC)
PLAN = (
    PlannedOrder(0, "AAPL", Side.SELL, qty=Decimal("10.000000001")),
    PlannedOrder(1, "BRK.B", Side.BUY, notional=Decimal("1000.00")),
    PlannedOrder(2, "MSFT", Side.BUY, qty=Decimal(3)),
)
SKIPPED = (SkippedOrder("TSLA", Side.BUY, Decimal("0.40"), reason_details="below $1"),)


TERMS = RunTerms(
    run_type="invest_cash",
    broker_integration="CLIENT",
    account_id="a-1",
    initiated_from="api",
    weights=(
        TargetWeight("asset", "AAPL", Decimal("60.5")),
        TargetWeight("cash", None, Decimal("39.5")),
    ),
    amount=Decimal("1000.00"),
)
REF = OrderRef("rebal-run-1-0", "b-1")


def planned(terms: RunTerms = TERMS) -> Run:
    return Run("run-1", "pf-1").plan(PLAN, SKIPPED, terms, created_at=AT - timedelta(hours=6))


PLATFORM_TERMS = replace(TERMS, broker_integration="PLATFORM")


def runs() -> list[Run]:
    unplanned = Run("run-1", "pf-1").record_fill(
        3, Decimal("1"), Decimal("2"), FRIDAY, AT.astimezone(timezone(timedelta(hours=-5)))
    )
    executed = (
        planned()
        .record_fill(
            0, Decimal("10.000000001"), Decimal("187.1234"), FRIDAY, AT, fully_filled=True, ref=REF
        )
        .record_fill(1, Decimal("3.3"), Decimal("300"), FRIDAY, AT + timedelta(seconds=1))
        .record_close(1, CloseReason.EXPIRED, Decimal("3.3"), AT + timedelta(hours=5))
        .record_close(2, CloseReason.REJECTED, Decimal(0), AT)
    )
    completed = move_status(executed, AT + timedelta(hours=6))[0]
    settled = settle_due(completed, date(2026, 11, 23), weekday_calendar(), SettlementCycles())[0]
    settled = settle_run(settled, AT + timedelta(days=3))[0]
    canceled = planned().cancel(AT, "client changed its mind", cause="c-1")
    started = move_status(planned(PLATFORM_TERMS).start_execution(AT), AT)[0]
    requested = started.request_cancel("pf-1", AT, "c-2")
    queued = planned(PLATFORM_TERMS).queue_execution(AT + timedelta(hours=1))
    stopping = requested.stop_execution(RunStop(StopKind.CANCELED_MID_RUN, AT, "asked", "c-2"))
    timed_out = move_status(stopping.time_out(AT + timedelta(days=1)), AT + timedelta(days=1))[0]
    late = move_status(planned().cancel(AT), AT)[0].record_fill(
        2, Decimal(3), Decimal("410.5"), FRIDAY, AT + timedelta(minutes=5), fully_filled=True
    )
    partial = planned(PLATFORM_TERMS).start_execution(AT)
    partial = move_status(partial.record_fill(0, Decimal(4), Decimal("187.1"), FRIDAY, AT), AT)[0]
    expired = move_status(partial.time_out(AT + timedelta(days=1)), AT + timedelta(days=1))[0]
    # 7 x 187.2 - 4 x 187.1 = 562 for the 3 more: 187.333... a quotient, stored exactly
    increment = expired.record_fill(0, Decimal(7), Decimal("187.2"), MONDAY, AT + timedelta(days=3))
    calendar, cycles = weekday_calendar(), SettlementCycles()
    both_due = settle_due(increment, TUESDAY, calendar, cycles)[0]
    late_settled = settle_due(both_due, TUESDAY, calendar, cycles, late=True)
    signed = FactSource("e-1", "MSFT", Side.BUY, signer="order-router")
    early = (
        Run("run-2", "pf-1")
        .record_fill(2, Decimal(1), Decimal("410.5"), FRIDAY, AT, source=signed)
        .record_fill(2, Decimal(99), Decimal(410), FRIDAY, AT, source=FactSource("e-2"))
        .record_close(0, CloseReason.EXPIRED, Decimal(0), AT)
    )
    judged = early.plan(PLAN, (), RunTerms(broker_integration="PLATFORM"))  # e-2's 99 MSFT refused
    return [
        Run("run-1", "pf-1"),
        unplanned,
        planned(),
        executed,
        completed,
        settled,
        canceled,
        early,
        judged,
        requested,
        queued,
        stopping,
        timed_out,
        increment,
        late_settled[0],
        late,
    ]


@pytest.mark.parametrize("run", runs(), ids=lambda r: f"{r.run_id}-{r.status.value}")
def test_round_trip_is_exact_through_json(run: Run) -> None:
    document = run_to_document(run)
    through_json = orjson.loads(orjson.dumps(document))  # only JSON types inside
    restored = run_from_document(through_json)
    assert restored == run
    assert restored.transactions == run.transactions


def test_decimals_are_strings_and_the_views_are_derived() -> None:
    settled = runs()[5]
    document = run_to_document(settled)
    assert settled.is_completed and document["completed"] is True and document["settled"] is True
    assert document["status"] == "COMPLETED_ADJUSTED" == document["lifecycle"]["status"]
    assert document["fills"]["0"]["broker_order_id"] == "b-1"
    assert document["weights"][0] == {"type": "asset", "symbol": "AAPL", "percent": "60.5"}
    assert document["fills"]["0"]["cum_qty"] == "10.000000001"
    assert document["orders"][1]["notional"] == "1000.00"
    view = {t["leg"]: t for t in document["transactions"]}
    assert view[0]["status"] == "SETTLED" and view[0]["settled_on"] == "2026-11-23"
    assert view[1]["status"] == "EXPIRED" and view[1]["filled_qty"] == "3.3"
    assert view[2]["status"] == "NOT_EXECUTED" and view[2]["close_reason"] == "rejected"


def test_unknown_document_version_is_refused() -> None:
    document = run_to_document(planned())
    document["document_version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        run_from_document(document)


def test_early_facts_and_rejections_are_kept_and_counted() -> None:
    early, judged = runs()[7:9]
    assert len(run_to_document(early)["pending"]) == 3
    document = run_to_document(judged)
    assert document["pending"] == [] and document["rejected_facts"] == 1
    assert document["rejections"][0]["code"] == "quantity_above_order"
    assert document["rejections"][0]["event_id"] == "e-2"


def test_documents_without_early_facts_still_load() -> None:
    document = run_to_document(planned())
    for field in ("pending", "rejections", "rejected_facts"):
        del document[field]
    for order in document["orders"]:
        del order["expected_price"]
    assert run_from_document(document) == planned()


def test_a_version_1_document_still_loads() -> None:
    """Written before the run lifecycle: no terms beyond the plan's, no order ids, `completed` and
    `final_status` instead of a lifecycle, and the run.completed it published on the side."""
    settled = runs()[5]
    document = orjson.loads(orjson.dumps(run_to_document(settled)))
    for field in ("initiated_from", "weights", "amount", "lifecycle", "execution_started_at"):
        del document[field]
    for field in ("execution_starts_at", "stop", "late_fills"):
        del document[field]
    document["canceled_before_execution"] = False
    del document["cancel_requested_at"], document["fills"]["0"]["client_order_id"]
    del document["fills"]["0"]["broker_order_id"]
    document |= {"document_version": 1, "final_status": "COMPLETED_ADJUSTED"}
    document["completion_report"] = {
        "event_id": "01JOLDRANDOMID",
        "causation_id": "e-9",
        "completed_at": "2026-11-23T15:00:00+00:00",
        "completed_day": "2026-11-23",
    }
    record = record_from_document(document)
    run = record.run
    assert run.status is RunStatus.COMPLETED_ADJUSTED and run.is_completed
    assert run.lifecycle.settled_at is not None  # every transaction was final: settled then
    assert run.terms.initiated_from == "system" and run.terms.weights == ()
    assert run.fills[0].ref is None and run.transactions == settled.transactions
    assert record.reports["run.completed"] == {
        "event_id": "01JOLDRANDOMID",
        "causation_id": "e-9",
        "at": "2026-11-23T15:00:00+00:00",
    }
    in_flight = document | {"completed": False, "final_status": None}
    assert run_from_document(in_flight).lifecycle.status is None  # created from now on


@pytest.mark.parametrize(
    ("before_execution", "kind"),
    [(True, StopKind.CANCELED), (False, StopKind.CANCELED_MID_RUN)],
)
def test_a_cancel_written_before_stops_is_read_as_one(before_execution, kind) -> None:
    document = run_to_document(planned())
    del document["stop"], document["late_fills"], document["execution_starts_at"]
    document |= {"canceled_at": AT.isoformat(), "canceled_before_execution": before_execution}
    assert run_from_document(document).stop == RunStop(kind, AT)
    del document["canceled_at"]
    assert run_from_document(document).stop is None


def test_stops_and_late_fills_are_stored() -> None:
    late = runs()[-1]
    document = run_to_document(late)
    assert document["stop"] == {
        "kind": "canceled",
        "at": AT.isoformat(),
        "reason": "",
        "cause": None,
    }
    assert document["late_fills"]["2"]["cum_qty"] == "3"
    assert document["canceled_at"] == AT.isoformat()  # a view
    view = {t["leg"]: t for t in document["transactions"]}  # as the run ended
    assert view[2]["status"] == view[0]["status"] == "CANCELLED"
    [late_view] = document["late_transactions"]
    assert (late_view["leg"], late_view["status"]) == (2, "EXECUTED")


def test_the_cancel_request_and_late_increments_are_stored() -> None:
    all_runs = runs()
    requested, late_settled = all_runs[9], all_runs[-2]
    assert run_to_document(requested)["cancel_request_id"] == "c-2"
    document = run_to_document(late_settled)
    assert document["late_fills"]["0"]["cum_qty"] == "3"  # beyond the 4 the run reported
    assert document["late_settlements"] == {"0": TUESDAY.isoformat()}
    assert document["settlements"] == {"0": MONDAY.isoformat()}  # the reported 4, on their own
    [late_view] = document["late_transactions"]
    assert (late_view["leg"], late_view["filled_qty"]) == (0, "3")


def test_a_late_fill_settled_before_late_parts_were_kept_apart_still_loads() -> None:
    """Such a document kept a late leg's settlement with the others (a late fill was then only
    of a leg without a fill of its own)."""
    late = settle_due(runs()[-1], MONDAY, weekday_calendar(), SettlementCycles(), late=True)[0]
    assert late.late_settlements == {2: MONDAY} and late.settlements == {}
    document = orjson.loads(orjson.dumps(run_to_document(late)))
    document["settlements"] |= document.pop("late_settlements")
    del document["cancel_request_id"]
    assert run_from_document(document) == late


def test_a_close_caused_by_a_run_cancel_is_stored_and_older_closes_read_as_not() -> None:
    closed = planned(PLATFORM_TERMS).record_close(
        1, CloseReason.CANCELED, Decimal(0), AT, run_canceled=True
    )
    closed = closed.record_close(2, CloseReason.NOT_EXECUTED, Decimal(0), AT)
    document = orjson.loads(orjson.dumps(run_to_document(closed)))
    assert document["closes"]["1"]["run_canceled"] is True
    assert document["closes"]["2"]["run_canceled"] is False
    assert run_from_document(document) == closed
    early = Run("run-2", "pf-1").record_close(
        0, CloseReason.CANCELED, Decimal(0), AT, run_canceled=True
    )
    assert run_from_document(run_to_document(early)).pending == early.pending
    for close in document["closes"].values():  # written before the flag existed
        del close["run_canceled"]
    assert not any(c.run_canceled for c in run_from_document(document).closes.values())


def test_kept_cancels_are_stored_and_documents_without_them_still_load() -> None:
    kept = keep_cancel(Run("run-3", "pf-1"), KeptCancel("c-1", "pf-1", "asked", AT))
    kept = keep_cancel(kept, KeptCancel("c-2", "pf-9", "", AT + timedelta(seconds=1)))
    document = orjson.loads(orjson.dumps(run_to_document(kept)))
    assert document["kept_cancels"][0] == {
        "request_id": "c-1",
        "portfolio_id": "pf-1",
        "reason": "asked",
        "recorded_at": AT.isoformat(),
    }
    assert run_from_document(document) == kept
    del document["kept_cancels"]  # written before cancels were kept
    assert run_from_document(document).kept_cancels == ()


def test_the_retry_link_is_stored_and_older_documents_have_none() -> None:
    retry = planned(replace(TERMS, retry_of="O0RIGINALRUN000000000000000"))
    state = orjson.loads(orjson.dumps(run_to_document(retry)))
    assert run_from_document(state).terms.retry_of == "O0RIGINALRUN000000000000000"
    del state["retry_of"]
    assert run_from_document(state).terms.retry_of is None
