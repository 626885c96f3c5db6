"""Any permutation of the same facts, with duplicates, gives the same transactions and the same
RunCompletion, and run.completed is produced exactly once along the way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_settlement_tracker.adapters.trading_calendar import WeekdayCalendar
from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateEvent,
    FactRejected,
    OrderClosed,
    OrderFilled,
    PlannedOrder,
    Run,
    RunCompletion,
    SettlementCycles,
    Side,
    TransactionStatus,
    UnblockOn,
)

CALENDAR = WeekdayCalendar([date(2026, 11, 26)])
CYCLES = SettlementCycles({"us_equity": 1})
FAR_FUTURE = date(2027, 6, 30)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
CLOSE_STATUS = {
    CloseReason.REJECTED: TransactionStatus.NOT_EXECUTED,
    CloseReason.NOT_EXECUTED: TransactionStatus.NOT_EXECUTED,
    CloseReason.EXPIRED: TransactionStatus.EXPIRED,
    CloseReason.CANCELED: TransactionStatus.CANCELLED,
}


@dataclass(frozen=True)
class Plan:
    orders: tuple[PlannedOrder, ...]


@dataclass(frozen=True)
class Fill:
    leg: int
    fact: OrderFilled


@dataclass(frozen=True)
class Close:
    leg: int
    fact: OrderClosed


@dataclass(frozen=True)
class Tick:
    """The settlement timer firing."""


Event = Plan | Fill | Close | Tick


@dataclass(frozen=True)
class Scenario:
    events: tuple[Event, ...]  # in the order they really happened
    expected: dict[int, tuple[TransactionStatus, Decimal]]  # final status and filled qty


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    orders, events, expected = [], [], {}
    moment = T0
    for leg in range(draw(st.integers(1, 3))):
        planned = draw(st.integers(2, 30))
        by_notional = draw(st.booleans())
        order = PlannedOrder(
            leg,
            f"S{leg}",
            draw(st.sampled_from(Side)),
            qty=None if by_notional else Decimal(planned),
            # above the largest filled value drawn (30 x 999.99): every drawn fill is acceptable
            notional=Decimal(30_000) if by_notional else None,
        )
        orders.append(order)
        partials = sorted(draw(st.sets(st.integers(1, planned - 1), max_size=3)))
        ending = draw(st.sampled_from(["full", "closed", "open"]))
        cums = [*partials, planned] if ending == "full" else partials
        trade_date = date(2026, 11, 23)
        for cum in cums:
            moment += timedelta(minutes=draw(st.integers(1, 600)))
            trade_date = max(trade_date, moment.date())
            price = Decimal(draw(st.integers(100, 99_999))) / 100
            fact = OrderFilled(Decimal(cum), price, trade_date, moment, cum == planned)
            events.append(Fill(leg, fact))
        filled = Decimal(cums[-1]) if cums else Decimal(0)
        status = TransactionStatus.EXECUTED if cums else TransactionStatus.PLANNED
        if ending == "full":
            status = TransactionStatus.SETTLED
        elif ending == "closed":
            reason = draw(st.sampled_from(CloseReason))
            moment += timedelta(minutes=1)
            events.append(Close(leg, OrderClosed(reason, filled, moment)))
            status = CLOSE_STATUS[reason]
        expected[leg] = (status, filled)
    events.insert(0, Plan(tuple(orders)))
    return Scenario(tuple(events), expected)


def replay(events: list[Event], unblock_on: UnblockOn) -> tuple[Run, list[RunCompletion]]:
    """Feed events the way the service does: apply, then try to complete after each one."""
    run, completions = Run("O1", "pf-1"), []
    for event in [*events, Tick()]:  # the timer fires again after the last event
        try:
            if isinstance(event, Plan):
                run = run.plan(event.orders, run_type="full_rebalance")
            elif isinstance(event, Fill):
                f = event.fact
                run = run.record_fill(
                    event.leg,
                    f.cum_qty,
                    f.avg_price,
                    f.trade_date,
                    f.executed_at,
                    fully_filled=f.fully_filled,
                )
            elif isinstance(event, Close):
                c = event.fact
                run = run.record_close(event.leg, c.reason, c.cum_qty, c.closed_at)
            else:
                run = run.settle_due(FAR_FUTURE, CALENDAR, CYCLES)[0]
        except (DuplicateEvent, FactRejected):
            pass  # a no-op for the caller (which dead-letters a refused fact)
        run, completion = run.complete(unblock_on)
        if completion is not None:
            completions.append(completion)
    return run, completions


@st.composite
def shuffled(draw: st.DrawFn) -> tuple[Scenario, list[Event]]:
    scenario = draw(scenarios())
    pool = list(scenario.events)
    duplicates = draw(st.lists(st.sampled_from(pool), max_size=4))
    ticks = [Tick()] * draw(st.integers(0, 2))
    return scenario, draw(st.permutations([*pool, *duplicates, *ticks]))


def without_settlement_timing(completion: RunCompletion) -> RunCompletion:
    """Under unblock_on=EXECUTED the run may complete before or after the settlement timer
    fires, so whether an outcome already shows its settlement depends on the clock, not on the
    facts. Everything else must not."""
    orders = tuple(
        replace(
            outcome,
            settled_on=None,
            status=TransactionStatus.EXECUTED
            if outcome.status is TransactionStatus.SETTLED
            else outcome.status,
        )
        for outcome in completion.orders
    )
    return replace(completion, orders=orders)


@settings(max_examples=200, deadline=None)
@given(case=shuffled(), unblock_on=st.sampled_from(UnblockOn))
def test_any_arrival_order_gives_the_same_result(
    case: tuple[Scenario, list[Event]], unblock_on: UnblockOn
) -> None:
    scenario, arrival = case
    reference, reference_completions = replay(list(scenario.events), unblock_on)
    run, completions = replay(arrival, unblock_on)

    assert run.transactions == reference.transactions
    assert len(completions) <= 1
    if unblock_on is UnblockOn.SETTLED:
        assert completions == reference_completions
    else:
        normalized = [without_settlement_timing(c) for c in completions]
        assert normalized == [without_settlement_timing(c) for c in reference_completions]

    # The derived state is the truth of the scenario, not merely self-consistent.
    for leg, (status, filled) in scenario.expected.items():
        tx = run.transactions[leg]
        assert tx.filled_qty == filled
        if status is TransactionStatus.SETTLED:
            assert tx.status is TransactionStatus.SETTLED
        else:
            assert tx.status is status
            assert (tx.settled_on is not None) == (tx.is_closed and filled > 0)
    all_done = all(
        status not in (TransactionStatus.PLANNED, TransactionStatus.EXECUTED)
        for status, _ in scenario.expected.values()
    )
    assert len(completions) == (1 if all_done else 0)
    assert run.completed is all_done


@st.composite
def shuffled_with_forgeries(draw: st.DrawFn) -> tuple[Scenario, list[Event]]:
    """The scenario's facts plus forged fills that no check lets through, in any order."""
    scenario = draw(scenarios())
    [plan] = [e for e in scenario.events if isinstance(e, Plan)]
    forged: list[Event] = []
    for order in plan.orders:
        for _ in range(draw(st.integers(0, 2))):
            moment = T0 + timedelta(minutes=draw(st.integers(0, 600)))
            # above any ordered quantity (<= 30), and above what the notional (30,000) buys
            cum = Decimal(draw(st.integers(31, 10_000)))
            price = Decimal(draw(st.integers(100_000, 999_999))) / 100
            fact = OrderFilled(cum, price, moment.date(), moment, draw(st.booleans()))
            forged.append(Fill(order.leg, fact))
    return scenario, draw(st.permutations([*scenario.events, *forged]))


@settings(max_examples=200, deadline=None)
@given(case=shuffled_with_forgeries())
def test_forged_facts_change_nothing_whenever_they_arrive(
    case: tuple[Scenario, list[Event]],
) -> None:
    scenario, arrival = case
    reference, reference_completions = replay(list(scenario.events), UnblockOn.SETTLED)
    run, completions = replay(arrival, UnblockOn.SETTLED)
    assert run.transactions == reference.transactions
    assert completions == reference_completions
