"""Re-reporting after a broker lost records: the facts derived again from the stored order state
are the ones published the first time (same dedupe keys, hence the same event ids)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rebal_order_router.domain import (
    OrderEvent,
    OrderEventKind,
    OrderIntent,
    OrderSide,
    RunExecution,
)

K = OrderEventKind
AT = datetime(2024, 7, 1, 14, 30, tzinfo=UTC)


def a_run() -> RunExecution:
    return RunExecution.plan(
        "run-1",
        "pf-1",
        "acct-1",
        [
            OrderIntent("001.sell.TLT", "TLT", OrderSide.SELL, qty=Decimal(5)),
            OrderIntent("002.sell.BND", "BND", OrderSide.SELL, qty=Decimal(2)),
            OrderIntent("003.sell.SPY", "SPY", OrderSide.SELL, qty=Decimal(1)),
        ],
    )


def test_current_facts_are_the_last_facts_published() -> None:
    run = a_run()
    ids = {o.symbol: o.client_order_id for o in run.orders}
    tlt, bnd, spy = ids["TLT"], ids["BND"], ids["SPY"]
    published: dict[str, object] = {}
    steps = [
        (tlt, OrderEvent(K.PARTIALLY_FILLED, AT, "B1", Decimal(2), Decimal("90"))),
        (tlt, OrderEvent(K.FILLED, AT + timedelta(seconds=1), "B1", Decimal(5), Decimal("91"))),
        (bnd, OrderEvent(K.PARTIALLY_FILLED, AT, "B2", Decimal(1), Decimal("70"))),
        (bnd, OrderEvent(K.CANCELED, AT + timedelta(seconds=2), "B2", Decimal(1), Decimal("70"))),
        (spy, OrderEvent(K.ACCEPTED, AT, "B3")),
    ]
    for coid, event in steps:
        update = run.apply(coid, event)
        run = update.run
        for fact in update.facts:
            published[fact.dedupe_key] = fact  # the latest fact per key
    again = {fact.dedupe_key: fact for fact in run.current_facts()}
    # the final fill of TLT, BND's partial fill and its close; SPY has told nothing yet
    assert set(again) == {
        f"{tlt}:filled:5:final",
        f"{bnd}:filled:1",
        f"{bnd}:closed",
    }
    assert all(again[key] == published[key] for key in again)
