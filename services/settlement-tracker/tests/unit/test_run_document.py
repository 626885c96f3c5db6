"""Run <-> store document: an exact round trip, JSON only, decimals as strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest

from rebal_settlement_tracker.adapters.run_document import run_from_document, run_to_document
from rebal_settlement_tracker.adapters.trading_calendar import WeekdayCalendar
from rebal_settlement_tracker.domain import (
    CloseReason,
    FactSource,
    PlannedOrder,
    Run,
    SettlementCycles,
    Side,
    SkippedOrder,
    UnblockOn,
)

FRIDAY = date(2026, 11, 20)
AT = datetime(2026, 11, 20, 15, 30, 1, 123456, tzinfo=UTC)
PLAN = (
    PlannedOrder(0, "AAPL", Side.SELL, qty=Decimal("10.000000001")),
    PlannedOrder(1, "BRK.B", Side.BUY, notional=Decimal("1000.00")),
    PlannedOrder(2, "MSFT", Side.BUY, qty=Decimal(3)),
)
SKIPPED = (SkippedOrder("TSLA", Side.BUY, Decimal("0.40"), reason_details="below $1"),)


def planned() -> Run:
    return Run("run-1", "pf-1").plan(
        PLAN, SKIPPED, run_type="full_rebalance", broker_integration="CLIENT", account_id="a-1"
    )


def runs() -> list[Run]:
    unplanned = Run("run-1", "pf-1").record_fill(
        3, Decimal("1"), Decimal("2"), FRIDAY, AT.astimezone(timezone(timedelta(hours=-5)))
    )
    executed = (
        planned()
        .record_fill(0, Decimal("10.000000001"), Decimal("187.1234"), FRIDAY, AT, fully_filled=True)
        .record_fill(1, Decimal("3.3"), Decimal("300"), FRIDAY, AT + timedelta(seconds=1))
        .record_close(1, CloseReason.EXPIRED, Decimal("3.3"), AT + timedelta(hours=5))
        .record_close(2, CloseReason.REJECTED, Decimal(0), AT)
    )
    settled = executed.settle_due(date(2026, 11, 23), WeekdayCalendar(), SettlementCycles())[0]
    completed = settled.complete(UnblockOn.SETTLED)[0]
    canceled = planned().cancel(AT)
    signed = FactSource("e-1", "MSFT", Side.BUY, signer="order-router")
    early = (
        Run("run-2", "pf-1")
        .record_fill(2, Decimal(1), Decimal("410.5"), FRIDAY, AT, source=signed)
        .record_fill(2, Decimal(99), Decimal(410), FRIDAY, AT, source=FactSource("e-2"))
        .record_close(0, CloseReason.EXPIRED, Decimal(0), AT)
    )
    judged = early.plan(PLAN, broker_integration="PLATFORM")  # e-2's 99 MSFT is refused
    return [
        Run("run-1", "pf-1"),
        unplanned,
        planned(),
        executed,
        settled,
        completed,
        canceled,
        early,
        judged,
    ]


@pytest.mark.parametrize("run", runs(), ids=lambda r: f"{r.run_id}-{r.status.value}")
def test_round_trip_is_exact_through_json(run: Run) -> None:
    document = run_to_document(run)
    through_json = orjson.loads(orjson.dumps(document))  # only JSON types inside
    restored = run_from_document(through_json)
    assert restored == run
    assert restored.transactions == run.transactions


def test_decimals_are_strings_and_the_transactions_view_is_derived() -> None:
    completed = runs()[5]
    document = run_to_document(completed)
    assert completed.completed and document["completed"] is True
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
    early, judged = runs()[7:]
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
