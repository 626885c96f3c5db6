"""Any permutation of the same facts, with duplicates, gives the same transactions, the same
status path, the same RunCompletion and the same settlement report, and run.completed and
run.settled are each produced exactly once along the way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from rebal_runtime.calendar import weekday_calendar
from rebal_settlement_tracker.domain import (
    CloseReason,
    DuplicateEvent,
    FactRejected,
    OrderClosed,
    OrderFilled,
    PlannedOrder,
    Run,
    RunCompletion,
    RunStatus,
    RunTerms,
    SettlementCycles,
    Side,
    TransactionStatus,
    move_status,
    settle_due,
    settle_run,
)

CALENDAR = weekday_calendar([date(2026, 11, 26)])
CYCLES = SettlementCycles({"us_equity": 1})
FAR_FUTURE = date(2027, 6, 30)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
NOW = datetime(2027, 7, 1, tzinfo=UTC)  # when the service handles each event (its time is moot)
TERMS = RunTerms(run_type="full_rebalance", broker_integration="CLIENT", account_id="a-1")
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


@dataclass
class Replayed:
    run: Run
    completions: list[RunCompletion]  # run.completed
    settlements: list[RunCompletion]  # run.settled
    path: list[RunStatus]  # run.created and every run.status_changed


def replay(events: list[Event]) -> Replayed:
    """Feed events the way the service does (`progress.advance`): apply, then move the run's
    status, complete it and settle it if it can, after each one."""
    out = Replayed(Run("O1", "pf-1"), [], [], [])
    for event in [*events, Tick()]:  # the timer fires again after the last event
        run = out.run
        try:
            if isinstance(event, Plan):
                run = run.plan(event.orders, (), TERMS, created_at=T0)
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
                run = settle_due(run, FAR_FUTURE, CALENDAR, CYCLES)[0]
        except (DuplicateEvent, FactRejected):
            pass  # a no-op for the caller (which dead-letters a refused fact)
        run, changes, completion = move_status(run, NOW)
        run, settlement = settle_run(run, NOW)
        out.path += [change.status for change in changes]
        out.completions += [completion] if completion is not None else []
        out.settlements += [settlement] if settlement is not None else []
        out.run = run
    return out


@st.composite
def shuffled(draw: st.DrawFn) -> tuple[Scenario, list[Event]]:
    scenario = draw(scenarios())
    pool = list(scenario.events)
    duplicates = draw(st.lists(st.sampled_from(pool), max_size=4))
    ticks = [Tick()] * draw(st.integers(0, 2))
    return scenario, draw(st.permutations([*pool, *duplicates, *ticks]))


def without_settlement_timing(completion: RunCompletion) -> RunCompletion:
    """The run completes when its orders are final, before or after the settlement timer fires,
    so whether an outcome already shows its settlement depends on the clock, not on the facts.
    Everything else must not."""
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
@given(case=shuffled())
def test_any_arrival_order_gives_the_same_result(case: tuple[Scenario, list[Event]]) -> None:
    scenario, arrival = case
    reference = replay(list(scenario.events))
    replayed = replay(arrival)
    run = replayed.run

    assert run.transactions == reference.run.transactions
    assert replayed.path == reference.path  # each status once, in the table's order
    assert len(replayed.completions) <= 1 and len(replayed.settlements) <= 1
    normalized = [without_settlement_timing(c) for c in replayed.completions]
    assert normalized == [without_settlement_timing(c) for c in reference.completions]
    assert replayed.settlements == reference.settlements

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
    # every order ended, and (the timer having fired after the last event) every trade settled
    assert len(replayed.completions) == len(replayed.settlements) == (1 if all_done else 0)
    assert run.is_completed is all_done
    assert replayed.path[:1] == [RunStatus.QUEUED]
    assert (RunStatus.IN_PROGRESS in replayed.path) is run.started


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
    reference = replay(list(scenario.events))
    replayed = replay(arrival)
    assert replayed.run.transactions == reference.run.transactions
    assert replayed.path == reference.path
    normalized = [without_settlement_timing(c) for c in replayed.completions]
    assert normalized == [without_settlement_timing(c) for c in reference.completions]
    assert replayed.settlements == reference.settlements
