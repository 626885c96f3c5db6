"""A CLIENT run's cancel (no order-router involved): it ends at once, CANCELED if nothing executed,
else CANCELED_MID_RUN; unreported legs are CANCELLED and a fill reported later is still
recorded and settles, without reopening the run."""

from __future__ import annotations

from decimal import Decimal

from rebal_schemas import BrokerIntegration, RunStatus, TransactionStatus

from .test_handlers import THURSDAY, WEDNESDAY, market_time

NOON = market_time(WEDNESDAY, 16)


async def test_a_client_run_with_no_execution_is_canceled_at_once(harness, run_events) -> None:
    h = harness(NOON)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    cancel = events.cancel()
    assert await h.handle(cancel) is True

    assert h.status_path() == ["QUEUED", "CANCELED"]
    change = h.statuses()[-1]
    assert change.causation_id == cancel.event_id  # `rebal cancel --wait` finds it
    assert change.reason == "canceled before any order executed: client changed its mind"
    [completed], [settled] = h.completed(), h.run_settled()
    assert completed.status is settled.status is RunStatus.CANCELED
    assert completed.canceled_at == NOON and completed.causation_id == cancel.event_id
    assert {o.transaction_status for o in completed.failed_orders} == {TransactionStatus.CANCELLED}
    assert await h.handle(cancel) is False  # redelivered: answered once
    await h.handle(events.cancel())  # a second request: the run is final
    assert [r.reason_code.value for r in h.rejected()] == ["RUN_FINAL"]
    assert len(h.completed()) == len(h.run_settled()) == 1


async def test_a_client_run_with_fills_ends_canceled_mid_run_and_late_fills_still_count(
    harness, run_events
) -> None:
    h = harness(NOON)
    events = run_events(broker_integration=BrokerIntegration.CLIENT)
    await h.handle(events.ready())
    await h.handle(events.filled(0, "10", "200", WEDNESDAY, producer="middleware"))
    await h.handle(events.cancel())

    assert h.status_path() == ["QUEUED", "IN_PROGRESS", "CANCELED_MID_RUN"]
    [completed] = h.completed()
    assert completed.holdings_delta == {"AAPL": Decimal(-10)}
    assert [(o.leg, o.transaction_status) for o in completed.failed_orders] == [
        (1, TransactionStatus.CANCELLED),
        (2, TransactionStatus.CANCELLED),
    ]
    assert h.run_settled() == []  # the 10 AAPL settle on Thursday

    late = events.filled(1, "4", "400", WEDNESDAY, at=market_time(WEDNESDAY, 16, 5))
    assert await h.handle(late) is True
    run = await h.run(events.run_id)
    assert run.late_transactions[1].status == TransactionStatus.EXECUTED
    assert run.transactions[1].status == TransactionStatus.CANCELLED  # as the run ended
    assert await h.handle(late.model_copy(update={"event_id": "late-again"})) is True  # no-op
    h.clock.set(market_time(THURSDAY, 14))
    await h.handlers.settle_due()
    assert [(s.leg, s.qty, s.late) for s in h.settled(events.run_id)] == [
        (0, Decimal(10), False),
        (1, Decimal(4), True),  # the late leg: its transaction.settled is its report
    ]
    [settled] = h.run_settled()
    assert settled.status is RunStatus.CANCELED_MID_RUN
    assert settled.holdings_delta == completed.holdings_delta  # the run as it ended
    assert [t.status for t in settled.transactions] == [
        TransactionStatus.SETTLED,
        TransactionStatus.CANCELLED,
        TransactionStatus.CANCELLED,
    ]
    assert len(h.completed()) == 1 and h.status_path()[-1] == "CANCELED_MID_RUN"
    assert await h.handlers.settle_due() == 0
