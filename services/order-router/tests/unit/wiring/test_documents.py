"""The run document round-trips exactly (decimals, times, statuses, service metadata)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson

from rebal_order_router.adapters.run_documents import (
    DONE_DAY,
    NEEDS_DISPATCH,
    OPEN,
    QUEUED,
    RunMeta,
    StoredRun,
    run_from_doc,
    run_index,
    run_to_doc,
)
from rebal_order_router.domain import (
    ExecutionStart,
    OrderEvent,
    OrderEventKind,
    OrderIntent,
    OrderSide,
    RunExecution,
    StopOutcome,
)
from rebal_order_router.service_layer.publishing import event_id_for

AT = datetime(2024, 7, 1, 14, 0, 0, 123456, tzinfo=UTC)


def a_run() -> StoredRun:
    run = RunExecution.plan(
        "opt-1",
        "pf-1",
        "acct-1",
        [
            OrderIntent("001.sell.AAPL", "AAPL", OrderSide.SELL, qty=Decimal("5.000000001")),
            OrderIntent("002.buy.MSFT", "MSFT", OrderSide.BUY, notional=Decimal("1000.10")),
        ],
    )
    sell = run.orders[0].client_order_id
    run = run.apply(
        sell,
        OrderEvent(
            OrderEventKind.PARTIALLY_FILLED,
            AT,
            "B1",
            filled_qty=Decimal("2.5"),
            filled_avg_price=Decimal("199.995"),
        ),
    ).run
    meta = RunMeta("ev-1", "opt-1", {o.client_order_id: i + 1 for i, o in enumerate(run.orders)})
    return StoredRun(run, meta.with_attempted([sell]))


def test_round_trip_through_json_is_exact() -> None:
    stored = a_run()
    doc = orjson.loads(orjson.dumps(run_to_doc(stored)))  # what SQLite / Mongo hand back
    assert run_from_doc(doc) == stored


def test_a_queued_then_stopped_run_round_trips_with_its_expected_prices() -> None:
    run = RunExecution.plan(
        "opt-2",
        "pf-1",
        "acct-1",
        [
            OrderIntent(
                "001.sell.AAPL",
                "AAPL",
                OrderSide.SELL,
                qty=Decimal(1),
                expected_price=Decimal("199.5"),
            )
        ],
    )
    start = run.start.queue(AT, AT + timedelta(hours=7))
    start = start.stopped(StopOutcome.REPLAN, AT + timedelta(hours=7), "AAPL moved", "ev-9")
    stored = StoredRun(
        run.with_start(start), RunMeta("ev-1", "opt-2", {run.orders[0].client_order_id: 1})
    )
    doc = orjson.loads(orjson.dumps(run_to_doc(stored)))
    assert run_from_doc(doc) == stored
    assert run_from_doc(doc).run.orders[0].expected_price == Decimal("199.5")
    assert run_index(stored)[QUEUED] is None and run_index(stored)[OPEN] is None
    assert run_index(stored)[DONE_DAY] == 20240701


def test_a_run_queued_again_round_trips_and_older_documents_never_were() -> None:
    stored = a_run()
    fresh = StoredRun(stored.run.with_start(ExecutionStart()), stored.meta)
    first = fresh.run.start.queue(AT, AT + timedelta(hours=1)).release(AT + timedelta(hours=1))
    again = StoredRun(fresh.run.with_start(first.queue(AT + timedelta(hours=8), None)), fresh.meta)
    doc = orjson.loads(orjson.dumps(run_to_doc(again)))
    assert run_from_doc(doc) == again and run_from_doc(doc).run.start.requeued == 1
    assert run_index(again)[QUEUED] == 1 and run_index(again)[NEEDS_DISPATCH] is None
    del doc["start"]["requeued"]  # written before runs could queue again
    assert run_from_doc(doc).run.start.requeued == 0


def test_a_format_1_document_reads_as_a_run_that_started_at_once() -> None:
    stored = a_run()
    doc = orjson.loads(orjson.dumps(run_to_doc(stored)))
    del doc["start"]
    for order in doc["orders"]:
        del order["expected_price"]
    doc["format"] = 1
    old = run_from_doc(doc)
    assert old.run.start == ExecutionStart() and old.run.orders[0].expected_price is None
    assert old == stored


def test_canceled_run_round_trips() -> None:
    stored = a_run()
    canceled = StoredRun(stored.run.cancel(AT, "owner").run, stored.meta)
    assert run_from_doc(orjson.loads(orjson.dumps(run_to_doc(canceled)))) == canceled


def test_closes_by_the_run_cancel_round_trip_and_older_documents_derive_them() -> None:
    stored = a_run()
    sell, buy = (o.client_order_id for o in stored.run.orders)
    run = stored.run.cancel(AT, "owner").run  # the buy, never sendable, closes at once
    broker_cancel = OrderEvent(
        OrderEventKind.CANCELED, AT, "B1", Decimal("2.5"), Decimal("199.995")
    )
    canceled = StoredRun(run.apply(sell, broker_cancel).run, stored.meta)
    assert [o.closed_by_run_cancel for o in canceled.run.orders] == [True, True]
    doc = orjson.loads(orjson.dumps(run_to_doc(canceled)))
    assert run_from_doc(doc) == canceled

    for order in doc["orders"]:
        del order["closed_by_run_cancel"]  # written before order.closed said so
    assert run_from_doc(doc) == canceled
    on_its_own = StoredRun(stored.run.apply(sell, broker_cancel).run, stored.meta)
    doc = orjson.loads(orjson.dumps(run_to_doc(on_its_own)))
    del doc["orders"][0]["closed_by_run_cancel"]
    assert run_from_doc(doc).run.order(sell).closed_by_run_cancel is False
    assert run_from_doc(doc).run.order(buy).closed_by_run_cancel is False


def test_index_lists_runs_with_work_only() -> None:
    stored = a_run()
    assert run_index(stored) == {NEEDS_DISPATCH: None, OPEN: 1, DONE_DAY: None, QUEUED: None}
    done = stored.run.apply(
        stored.run.orders[0].client_order_id,
        OrderEvent(OrderEventKind.FILLED, AT, "B1", Decimal("5.000000001"), Decimal("200")),
    ).run
    after = run_index(StoredRun(done, stored.meta))
    assert after == {NEEDS_DISPATCH: 1, OPEN: 1, DONE_DAY: None, QUEUED: None}


def test_event_ids_are_deterministic_and_fit_the_envelope() -> None:
    key = "rebalh-h" + "f" * 40 + "-001.sell.AAPL:filled:5.000000001:final"
    assert event_id_for("opt-1", key) == event_id_for("opt-1", key)
    assert event_id_for("opt-1", key) != event_id_for("opt-2", key)
    assert len(event_id_for("opt-1", key)) <= 128
