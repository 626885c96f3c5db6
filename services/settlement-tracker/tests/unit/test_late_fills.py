"""Fills after a TIMEOUT (docs/design.md §3): whatever a leg executed beyond what the run reported
is a late fill, recorded and settled with transaction.settled `late: true` for that increment
only (the optimizer adds it to the book on top of run.completed), never reopening the run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from rebal_schemas import CloseReason, RunStatus, TransactionStatus

from .test_handlers import THURSDAY, WEDNESDAY, market_time

FRIDAY = THURSDAY + timedelta(days=1)
STARTED = market_time(WEDNESDAY, 14, 30)
DEADLINE = STARTED + timedelta(days=1)
AFTER = DEADLINE + timedelta(minutes=5)


async def timed_out_run(h, events) -> None:  # type: ignore[no-untyped-def]
    """Sell 10 AAPL: 4 filled by the deadline. Buy 4 MSFT: its close says 3 filled, but that
    fill never came. Buy $1000 VTI: nothing heard."""
    await h.handle(events.ready())
    await h.handle(events.started(STARTED))
    await h.handle(events.filled(0, "4", "200", WEDNESDAY, final=False, at=STARTED))
    await h.handle(events.closed(1, CloseReason.canceled, STARTED, filled_qty="3"))
    h.clock.set(DEADLINE)
    await h.handlers.time_out_due()  # also settles Wednesday's 4 AAPL (T+1)


async def test_fills_beyond_what_a_timed_out_run_reported_are_late_increments(
    harness, run_events
) -> None:
    h = harness(STARTED)
    events = run_events()
    await timed_out_run(h, events)
    [completed] = h.completed()
    assert completed.status is RunStatus.TIMEOUT
    assert [(o.leg, o.filled_qty) for o in completed.orders] == [(0, Decimal(4))]
    assert [(o.leg, o.filled_qty) for o in completed.failed_orders] == [(1, 0), (2, 0)]
    assert [(s.leg, s.qty, s.late) for s in h.settled()] == [(0, Decimal(4), False)]
    assert len(h.run_settled()) == 1  # the portfolio is not held by what may still come

    # (a) the partly filled leg goes on filling: 7 in all, 3 of them after the end
    aapl = events.filled(0, "7", "200.75", THURSDAY, final=False, at=AFTER)
    assert await h.handle(aapl) is True  # recorded, not dead-lettered
    # (b) the fill the close had announced arrives
    msft = events.filled(1, "3", "400", THURSDAY, at=AFTER)
    assert await h.handle(msft) is True
    run = await h.run(events.run_id)
    assert {leg: fill.cum_qty for leg, fill in run.late_fills.items()} == {0: 3, 1: 3}
    # the order's own end, after the run's: the outcome was fixed at the end, nothing to add
    assert await h.handle(events.closed(0, CloseReason.expired, AFTER, filled_qty="7")) is True
    assert await h.run(events.run_id) == run

    h.clock.set(market_time(FRIDAY, 14))
    await h.handlers.settle_due()
    late = [(s.leg, s.qty, s.avg_price, s.trade_date, s.late) for s in h.settled()[1:]]
    # 7 x 200.75 = 1405.25 in all, of which 4 x 200 = 800 were reported: 605.25 for the 3 more
    assert late == [
        (0, Decimal(3), Decimal("201.75"), THURSDAY, True),
        (1, Decimal(3), Decimal(400), THURSDAY, True),
    ]
    assert all(s.settlement_date == FRIDAY for s in h.settled()[1:])
    # the run stays as it ended: said once, with what it had when it ended
    assert len(h.completed()) == len(h.run_settled()) == 1
    assert h.status_path()[-1] == "TIMEOUT"
    [said] = h.run_settled()
    assert [(t.leg, t.filled_qty, t.status) for t in said.transactions] == [
        (0, Decimal(4), TransactionStatus.EXPIRED),  # its executed part settled
        (1, Decimal(0), TransactionStatus.EXPIRED),
        (2, Decimal(0), TransactionStatus.EXPIRED),
    ]
    assert await h.handlers.settle_due() == 0


async def test_a_late_fill_redelivered_or_replayed_is_recorded_once(harness, run_events) -> None:
    h = harness(STARTED)
    events = run_events()
    await timed_out_run(h, events)
    aapl = events.filled(0, "7", "200.75", THURSDAY, final=False, at=AFTER)
    await h.handle(aapl)
    run = await h.run(events.run_id)

    assert await h.handle(aapl) is False  # redelivered: the inbox drops it
    assert await h.handle(aapl.model_copy(update={"event_id": "replayed"})) is True  # a no-op
    stale = events.filled(0, "5", "200.5", THURSDAY, final=False, at=AFTER)
    assert await h.handle(stale) is True  # an older report: nothing new
    reported = events.filled(0, "4", "200", WEDNESDAY, final=False, at=STARTED)
    assert await h.handle(reported) is True  # what the run had: nothing late
    assert await h.run(events.run_id) == run

    h.clock.set(market_time(FRIDAY, 14))
    await h.handlers.settle_due()
    assert [(s.leg, s.qty, s.late) for s in h.settled()] == [
        (0, Decimal(4), False),
        (0, Decimal(3), True),
    ]
    assert len({s.event_id for s in h.settled()}) == 2  # two transaction.settled, two ids
