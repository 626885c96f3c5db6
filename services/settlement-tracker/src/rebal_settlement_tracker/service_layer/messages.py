"""Translation between the wire events (`rebal_schemas`) and the pure domain, and the ids of what
the tracker publishes.

Inbound: optimization.ready becomes a plan (PlannedOrder/SkippedOrder/RunTerms of the domain).
Outbound: a settled Transaction becomes `transaction.settled` (the run events: `run_messages.py`);
a late one (what executed after its run ended) says `late` and carries only that increment.

Every event the tracker publishes has an id derived from its run and what it says (`event_id_for`):
saying the same thing again (a re-run after a version conflict, a re-report after the broker lost
records) gives the same id, so consumers drop the copy.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import rebal_schemas as wire
from rebal_schemas.types import PRICE_PLACES
from rebal_settlement_tracker import domain
from rebal_settlement_tracker.domain.gains import Gains

RUN_CREATED = "run.created"
RUN_COMPLETED = "run.completed"
RUN_SETTLED = "run.settled"
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)


def event_id_for(run_id: str, kind: str) -> str:
    """`kind`: run.created, run.status_changed:<status>, run.completed, run.settled,
    transaction.settled:<leg>[:late], request.rejected:<request event id>."""
    digest = hashlib.sha256(f"{run_id}\x00{kind}".encode()).hexdigest()
    return f"st-{digest[:40]}"


def status_changed_kind(status: domain.RunStatus) -> str:
    return f"run.status_changed:{status.value}"


def planned_orders(event: wire.OptimizationReady) -> tuple[domain.PlannedOrder, ...]:
    return tuple(
        domain.PlannedOrder(
            leg=order.leg,
            symbol=order.symbol,
            side=domain.Side(order.side.value),
            qty=order.qty,
            notional=order.notional,
            asset_class=order.asset_class,
            expected_price=order.expected_price,
            estimated_gain=None
            if order.estimated_gain is None
            else Gains(order.estimated_gain.short_term, order.estimated_gain.long_term),
        )
        for order in event.orders
    )


def skipped_orders(event: wire.OptimizationReady) -> tuple[domain.SkippedOrder, ...]:
    return tuple(
        domain.SkippedOrder(
            symbol=skipped.symbol,
            side=domain.Side(skipped.side.value),
            notional=skipped.notional,
            reason=skipped.reason,
            reason_details=skipped.reason_details or None,
        )
        for skipped in event.skipped_orders
    )


def run_terms(event: wire.OptimizationReady) -> domain.RunTerms:
    return domain.RunTerms(
        run_type=event.run_type.value,
        broker_integration=event.broker_integration.value,
        account_id=event.account_id,
        initiated_from=event.initiated_from.value,
        weights=tuple(
            domain.TargetWeight(weight.type, weight.symbol, weight.percent)
            for weight in event.weights
        ),
        amount=event.amount,
        retry_of=event.retry_of,
    )


def order_ref(event: wire.OrderFilled | wire.OrderClosed) -> domain.OrderRef:
    return domain.OrderRef(event.client_order_id, event.broker_order_id)


def transaction_settled(
    run: domain.Run,
    tx: domain.Transaction,
    now: datetime,
    envelope: dict[str, Any],
    *,
    late: bool = False,
) -> wire.TransactionSettled:
    """`late`: `tx` is one of `run.late_transactions`, a leg's increment after the run ended (the
    leg's reported part may settle too: its own event, its own id)."""
    if tx.fill is None or tx.settled_on is None:
        raise ValueError(f"run {run.run_id} leg {tx.leg} is not settled")
    kind = f"transaction.settled:{tx.leg}" + (":late" if late else "")
    return wire.TransactionSettled(
        run_id=run.run_id,
        portfolio_id=run.portfolio_id,
        leg=tx.leg,
        symbol=tx.symbol,
        side=wire.OrderSide(tx.side.value),
        qty=tx.fill.cum_qty,
        avg_price=_wire_price(tx.fill.avg_price),
        trade_date=tx.fill.trade_date,
        settlement_date=tx.settled_on,
        late=late,
        occurred_at=now,
        **{**envelope, "event_id": event_id_for(run.run_id, kind)},
    )


def _wire_price(price: Decimal) -> Decimal:
    """A late increment's average price is a quotient: rounded to the places the wire carries
    (qty x price then still rounds to the increment's cents for any real quantity). A broker's
    own price fits already and is left as it came."""
    exponent = price.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -PRICE_PLACES:
        return price
    return max(price.quantize(PRICE_QUANTUM, rounding=ROUND_HALF_UP), PRICE_QUANTUM)
