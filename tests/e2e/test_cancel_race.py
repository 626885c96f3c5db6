"""Cancels racing fills over the real broker: the broker simulator, the order-router and the
settlement-tracker as processes, each run a sell then a buy that the simulator fills
`FILL_DELAY_MS` after it accepts the order.

Each run's cancel is sent at its own moment after its sell reached the broker: well before the
fill, around it (the race: the fill may reach the broker before the cancel does, or the cancel the
router before the fill's update), and after the run completed. Whoever wins, the books must agree:
every run ends once, what it reports filled is what the broker filled (no fill lost, none counted
twice, nothing left open at the broker), and the cancel is answered (the run stopped by it, or a
`request.rejected` RUN_FINAL naming it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rebal_runtime.stack import Stack
from rebal_runtime.testing.kafka import TopicReader
from rebal_runtime.topics_admin import ensure_topics
from rebal_schemas import (
    PriceUpdated,
    RequestRejected,
    RunCompleted,
    RunStatus,
)

from .broker_helpers import broker_orders, cancel, of, publish, ready, simulator, until
from .conftest import logs, running_stack

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

FILL_DELAY_MS = 1500
PRICES = {"AAPL": "200", "MSFT": "400"}
# seconds after the sell is seen at the broker; None: after the run completed
EARLY = 0.0
RACING = (0.8, 1.1, 1.4, 1.7, 2.0)  # around the sell's fill, and the buy's send after it
AFTER_COMPLETION = None
CANCEL_AT: dict[str, float | None] = {
    "early": EARLY,
    **{f"racing-{i}": at for i, at in enumerate(RACING)},
    "after": AFTER_COMPLETION,
}
SIGN = {"buy": Decimal(1), "sell": Decimal(-1)}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(
        tmp_path_factory,
        request,
        "race",
        only=("broker-simulator", "order-router", "settlement-tracker"),
        service_overrides={"order-router": {"REBAL_DISPATCH_POLL_SECONDS": "0.1"}},
    ) as running:
        yield running


def sell(run_id: str) -> str:
    return f"rebal-{run_id}-001.sell.AAPL"


async def cancel_on_time(stack: Stack, bootstrap: str, done: TopicReader) -> None:
    """Send each run's cancel at its moment after its sell reached the broker."""
    seen: dict[str, float] = {}
    pending = dict(CANCEL_AT)
    while pending:
        orders = broker_orders(stack)
        now = time.monotonic()
        for run_id in [r for r in pending if sell(r) in orders]:
            seen.setdefault(run_id, now)
            at = pending[run_id]
            if at is None:
                await done.poll(0.05)
                if not of(done.events(), RunCompleted, run_id):
                    continue
            elif now < seen[run_id] + at:
                continue
            await publish(bootstrap, cancel(run_id))
            del pending[run_id]
        await asyncio.sleep(0.02)


def test_cancels_racing_fills_leave_the_run_and_the_broker_in_agreement(stack: Stack) -> None:
    bootstrap = stack.kafka.bootstrap_servers
    simulator(
        stack,
        "POST",
        "/admin/prices",
        {"prices": [{"symbol": s, "price": p} for s, p in PRICES.items()]},
    )
    simulator(
        stack, "POST", "/admin/config", {"fill_mode": "delayed", "fill_delay_ms": FILL_DELAY_MS}
    )
    runs = {
        run_id: ready(run_id, (1, "AAPL", "sell", "2", "200"), (2, "MSFT", "buy", "1", "400"))
        for run_id in CANCEL_AT
    }

    async def scenario() -> tuple[list[RunCompleted], list[RequestRejected]]:
        await ensure_topics(bootstrap)
        now = datetime.now(UTC)
        prices = [PriceUpdated(symbol=s, price=Decimal(p), as_of=now) for s, p in PRICES.items()]
        async with (
            TopicReader(bootstrap, RunCompleted.TOPIC) as done,
            TopicReader(bootstrap, RequestRejected.TOPIC) as refused,
        ):
            await publish(bootstrap, *prices, *runs.values())
            await asyncio.wait_for(cancel_on_time(stack, bootstrap, done), timeout=120)
            await done.wait_for(
                lambda evs: all(of(evs, RunCompleted, r) for r in runs), timeout=120
            )
            await until(
                lambda: all(
                    o["status"] in ("filled", "canceled") for o in broker_orders(stack).values()
                ),
                "every order at the broker final",
            )
            await done.settle(1.5)  # a second completion would have come by now
            await refused.settle(0.5)
            completions = [e for e in done.events() if isinstance(e, RunCompleted)]
            refusals = [e for e in refused.events() if isinstance(e, RequestRejected)]
            return completions, refusals

    try:
        completions, refusals = asyncio.run(scenario())
    except TimeoutError:
        raise AssertionError(logs(stack)) from None

    at_broker = broker_orders(stack)
    outcomes: dict[str, RunStatus] = {}
    for run_id in runs:
        (run,) = of(completions, RunCompleted, run_id)  # each run ends exactly once
        outcomes[run_id] = run.status
        reported = {o.client_order_id: o for o in (*run.orders, *run.failed_orders)}
        delta: dict[str, Decimal] = {}
        for client_order_id, order in reported.items():
            broker = at_broker.get(client_order_id)
            broker_filled = Decimal(broker["filled_qty"]) if broker else Decimal(0)
            assert order.filled_qty == broker_filled, (run_id, client_order_id, order, broker)
            if broker_filled:
                delta[order.symbol] = SIGN[order.side.value] * broker_filled
        # every order of the run the broker holds is one the run reports
        sent = {c for c in at_broker if c.startswith(f"rebal-{run_id}-")}
        assert sent <= set(reported), (run_id, sent, set(reported))
        assert {s: q for s, q in run.holdings_delta.items() if q} == delta, (run_id, run)
        answered_by_refusal = [
            r
            for r in refusals
            if r.causation_id == f"cancel-{run_id}" and r.reason_code == "RUN_FINAL"
        ]
        if run.status is RunStatus.COMPLETED_SUCCESS:
            assert set(delta) == {"AAPL", "MSFT"}  # the fill won: the whole run executed
            assert answered_by_refusal, (run_id, "a cancel of a finished run is refused")
        else:
            assert run.status is RunStatus.CANCELED_MID_RUN, (run_id, run.status)
            assert run.canceled_at is not None and not answered_by_refusal

    assert outcomes["early"] is RunStatus.CANCELED_MID_RUN, outcomes
    assert at_broker[sell("early")]["status"] == "canceled"
    assert "rebal-early-002.buy.MSFT" not in at_broker
    assert outcomes["after"] is RunStatus.COMPLETED_SUCCESS, outcomes
    print("outcomes:", {r: s.value for r, s in outcomes.items()})
