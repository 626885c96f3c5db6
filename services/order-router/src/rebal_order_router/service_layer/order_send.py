"""Sending one order of a run: the broker call of the dispatcher (`dispatch.py`), exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_order_router.domain import (
    BrokerError,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderRejected,
    StoredRun,
    event_from_broker_order,
)
from rebal_order_router.service_layer.context import RouterContext, RunLease
from rebal_order_router.service_layer.exactly_once import SubmitWithheld, submit_exactly_once
from rebal_order_router.service_layer.window import window_open
from rebal_runtime.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class SendResult:
    client_order_id: str
    report: OrderEvent | None  # None: nothing learned (the broker could not be reached)
    answered: bool = False  # the broker answered the submit (placed or rejected it)


async def send_order(
    ctx: RouterContext, stored: StoredRun, order: Order, look_up_first: bool, lease: RunLease
) -> SendResult:
    """One order of a run to the broker, exactly once: looked up first when an earlier attempt
    may have sent it; withheld when the window closed or the run's lease was lost meanwhile."""
    account = stored.run.account_id
    coid = order.client_order_id

    def may_submit() -> bool:
        # Asked before every submit: a retry may come after the close, or after the lease
        # was lost while the request waited for the broker's in-flight cap; a holder that
        # lost it starts no further submit of the run.
        return not lease.lost and window_open(ctx, ctx.clock.now(), stored.run.run_id)

    if lease.lost:  # (the run's other orders took that long) another instance may send it
        log.warning("run lease lost; order left to its holder", client_order_id=coid)
        return SendResult(coid, None)
    if look_up_first:
        try:
            found = await ctx.broker.get_order_by_client_order_id(account, coid)
        except BrokerError as exc:
            # any refusal of a lookup (even a 4xx) says nothing about the order itself
            log.warning("lookup failed; order stays pending", client_order_id=coid, error=str(exc))
            return SendResult(coid, None)
        if found is not None:
            log.info("resumed order found at the broker", client_order_id=coid)
            return SendResult(coid, event_from_broker_order(found, ctx.clock.now()))
        log.info("resumed order not at the broker; submitting", client_order_id=coid)
    try:
        placed = await submit_exactly_once(
            ctx.broker,
            account,
            coid,
            order.symbol,
            order.side,
            qty=order.qty,
            notional=order.notional,
            policy=ctx.retry_policy,
            sleep=ctx.clock.sleep,
            may_submit=may_submit,
        )
    except SubmitWithheld:
        log.info("window closed or run lease lost; order withheld", client_order_id=coid)
        return SendResult(coid, None)
    except OrderRejected as exc:
        log.info("order rejected by the broker", client_order_id=coid, reason=exc.message)
        reason = f"{exc.message} (HTTP {exc.status_code})"
        rejected = OrderEvent(OrderEventKind.REJECTED, ctx.clock.now(), reason=reason)
        return SendResult(coid, rejected, answered=True)
    except BrokerError as exc:
        log.warning("broker unreachable; order stays pending", client_order_id=coid, error=str(exc))
        return SendResult(coid, None)
    report = event_from_broker_order(placed, ctx.clock.now())
    if report is None:
        log.warning("unexpected broker status", client_order_id=coid, status=placed.status)
    return SendResult(coid, report, answered=True)
