"""run.completed reports realized gains: each sale's estimated gain from optimization.ready
(the optimizer's, from the lots it planned to consume), scaled to what filled, per order and for
the run; a run whose sales carry none reports none (the payload as before)."""

from __future__ import annotations

import json
from decimal import Decimal as D

from rebal_schemas import CloseReason, PlannedOrder, RealizedGains, encode
from rebal_settlement_tracker.adapters.run_json import order_from_json, order_to_json
from rebal_settlement_tracker.domain.gains import Gains, filled_share, run_gains
from rebal_settlement_tracker.service_layer.messages import planned_orders

from ..conftest import BUY_MSFT, BUY_VTI, SELL_AAPL, RunEvents
from .test_handlers import WEDNESDAY, fill_all, market_time

GAIN = RealizedGains(short_term=D("-120.40"), long_term=D("300.00"))
SELL_WITH_GAIN = SELL_AAPL.model_copy(update={"estimated_gain": GAIN})
SELL_TLT = PlannedOrder(
    leg=3,
    symbol="TLT",
    side="sell",  # type: ignore[arg-type]
    qty=D(4),
    estimated_gain=RealizedGains(short_term=D("10.00"), long_term=D("0")),
)


def test_a_partial_fill_realizes_its_share_of_the_planned_gain() -> None:
    planned = Gains(D("-120.40"), D("300.00"))
    assert filled_share(planned, D(10), D(10)) == planned
    assert filled_share(planned, D(10), D(3)) == Gains(D("-36.12"), D("90.00"))
    assert filled_share(planned, None, D(3)) == planned
    assert run_gains([None, None]) is None
    assert run_gains([planned, None, Gains(D(1), D(2))]) == Gains(D("-119.40"), D("302.00"))


def test_the_planned_gain_is_kept_with_the_run() -> None:
    (order,) = planned_orders_of(SELL_WITH_GAIN)
    assert order.estimated_gain == Gains(D("-120.40"), D("300.00"))
    assert order_from_json(json.loads(json.dumps(order_to_json(order)))) == order
    older = order_to_json(order)
    del older["estimated_gain"]  # a run stored before gains
    assert order_from_json(older).estimated_gain is None


def planned_orders_of(*orders: PlannedOrder):  # type: ignore[no-untyped-def]
    return planned_orders(RunEvents("O1", "pf-1", orders=orders).ready())


async def test_run_completed_reports_each_sales_gain_and_the_runs(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events(orders=(SELL_WITH_GAIN, BUY_MSFT, BUY_VTI, SELL_TLT))
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    partial = events.filled(3, "2", "90", WEDNESDAY, final=False, at=market_time(WEDNESDAY, 15, 3))
    await h.handle(partial)
    await h.handle(
        events.closed(
            3, CloseReason.expired, market_time(WEDNESDAY, 20, 0), filled_qty="2", price="90"
        )
    )
    (completed,) = h.completed(events.run_id)
    by_leg = {o.leg: o.realized_gains for o in completed.orders}
    assert by_leg[0] == GAIN
    assert by_leg[3] == RealizedGains(short_term=D("5.00"), long_term=D(0))  # half filled
    assert by_leg[1] is None and by_leg[2] is None  # buys
    assert completed.realized_gains == RealizedGains(short_term=D("-115.40"), long_term=D(300))


async def test_a_run_without_planned_gains_reports_none(harness, run_events) -> None:
    h = harness(market_time(WEDNESDAY, 16), cycle_days=0)
    events = run_events()
    await h.handle(events.ready())
    for fill in fill_all(events, WEDNESDAY):
        await h.handle(fill)
    (completed,) = h.completed(events.run_id)
    assert completed.realized_gains is None
    raw = json.loads(encode(completed))
    assert "realized_gains" not in raw and all("realized_gains" not in o for o in raw["orders"])
