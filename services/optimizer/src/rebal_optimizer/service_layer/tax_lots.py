"""Tax lots between the wire and the domain: a snapshot's reported lots, a run's fills (the lots
its buys open and its sales consume), and a planned sale's lots and estimated gain.

The wire bounds how many lots an optimization lists (rebal_schemas MAX_ORDER_LOTS, MAX_RUN_LOTS):
a sale consuming more than fit lists none, but always carries its estimated gain."""

from __future__ import annotations

from collections.abc import Iterable

from rebal_optimizer.domain import Order, Side
from rebal_optimizer.domain.lot_ledger import Fill
from rebal_optimizer.domain.lots import Lot, Lots, RealizedGain
from rebal_optimizer.domain.order_plan import WIRE_LIMIT
from rebal_schemas import ConsumedLot, HoldingsReported, RealizedGains, RunCompleted, RunSettled
from rebal_schemas.events.orders import MAX_ORDER_LOTS, MAX_RUN_LOTS


def reported_lots(event: HoldingsReported) -> Lots | None:
    if event.lots is None:
        return None
    return {
        symbol: tuple(Lot(x.qty, x.cost_per_share, x.acquired_on) for x in lots)
        for symbol, lots in event.lots.items()
    }


def run_fills(event: RunCompleted | RunSettled) -> tuple[Fill, ...]:
    """run.completed's executed orders at their average fill price on their fill's day (the last
    execution's when the broker gave none); run.settled carries no prices, so none."""
    if not isinstance(event, RunCompleted):
        return ()
    fills = []
    for order in event.orders:
        at = order.filled_at or event.last_execution_at
        if order.filled_qty <= 0 or order.filled_avg_price is None or at is None:
            continue
        side = Side(order.side.value)
        fills.append(Fill(order.symbol, side, order.filled_qty, order.filled_avg_price, at.date()))
    return tuple(fills)


def wire_gain(gain: RealizedGain | None) -> RealizedGains | None:
    """None also for a gain beyond what the wire carries (a cost far off the price): the
    estimate is dropped, never the optimization."""
    if gain is None or max(abs(gain.short_term), abs(gain.long_term)) >= WIRE_LIMIT:
        return None
    return RealizedGains(short_term=gain.short_term, long_term=gain.long_term)


def listed_lots(orders: Iterable[Order]) -> dict[int, tuple[ConsumedLot, ...]]:
    """Per leg, the consumed lots the wire lists: in leg order while the run's budget lasts."""
    budget = MAX_RUN_LOTS
    listed: dict[int, tuple[ConsumedLot, ...]] = {}
    for order in orders:
        if not order.lots or len(order.lots) > min(MAX_ORDER_LOTS, budget):
            continue
        if any(t.qty >= WIRE_LIMIT or t.cost_per_share >= WIRE_LIMIT for t in order.lots):
            continue
        budget -= len(order.lots)
        listed[order.leg] = tuple(
            ConsumedLot(
                qty=t.qty,
                cost_per_share=t.cost_per_share,
                acquired_on=t.acquired_on,
                long_term=t.long_term,
                estimated=t.estimated,
            )
            for t in order.lots
        )
    return listed
