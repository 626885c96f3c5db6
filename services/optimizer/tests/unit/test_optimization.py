from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    TRANSITIONS,
    ExternalOrder,
    IllegalTransition,
    Initiator,
    Mandate,
    Optimization,
    OptimizationEvent,
    OptimizationStatus,
    OwnerChoice,
    Price,
    RunType,
    Side,
    TriggerReason,
    external_orders,
    validate_external,
)

T0 = datetime(2026, 3, 4, 15, tzinfo=UTC)
S = OptimizationStatus
E = OptimizationEvent


def optimization(
    status: OptimizationStatus = S.CREATED,
    *,
    recommended: bool = True,
    mandate: Mandate = Mandate.DISCRETIONARY,
) -> Optimization:
    return Optimization(
        optimization_id="O1",
        portfolio_id="P1",
        run_type=RunType.FULL_REBALANCE,
        trigger=TriggerReason.NIGHTLY,
        initiated_from=Initiator.SYSTEM,
        mandate=mandate,
        is_recommended=recommended,
        orders=(),
        skipped_orders=(),
        reasons=(),
        decision=(),
        weights=(),
        created_at=T0,
        status=status,
    )


@pytest.mark.parametrize(
    ("start", "event", "end"), [(s, e, t) for (s, e), t in TRANSITIONS.items()]
)
def test_every_legal_transition(start: S, event: E, end: S) -> None:
    moved = optimization(start).apply(event, T0 + timedelta(seconds=1))
    assert moved.status is end
    assert moved.status_changed_at == T0 + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("start", "event"), [(s, e) for s in S for e in E if (s, e) not in TRANSITIONS]
)
def test_every_other_move_is_illegal(start: S, event: E) -> None:
    with pytest.raises(IllegalTransition):
        optimization(start).apply(event, T0)


def test_expected_shape_of_the_lifecycle() -> None:
    assert TRANSITIONS[(S.CREATED, E.FOUND_NOT_RECOMMENDED)] is S.NOT_RECOMMENDED
    assert TRANSITIONS[(S.AWAITING_OWNER, E.ACCEPTED)] is S.READY
    assert TRANSITIONS[(S.AWAITING_OWNER, E.REOPTIMIZED)] is S.SUPERSEDED
    assert not any(s is S.NOT_RECOMMENDED for s, _ in TRANSITIONS)  # terminal


@pytest.mark.parametrize(
    ("recommended", "mandate", "status"),
    [
        (False, Mandate.DISCRETIONARY, S.NOT_RECOMMENDED),
        (False, Mandate.ADVISORY, S.NOT_RECOMMENDED),
        (True, Mandate.DISCRETIONARY, S.READY),
        (True, Mandate.ADVISORY, S.AWAITING_OWNER),
    ],
)
def test_first_move_depends_on_recommendation_and_mandate(
    recommended: bool, mandate: Mandate, status: S
) -> None:
    assert optimization(recommended=recommended, mandate=mandate).first_move(T0).status is status


@pytest.mark.parametrize(
    ("choice", "status"),
    [("ACCEPT", S.READY), ("REJECT", S.REJECTED), ("REOPTIMIZE", S.SUPERSEDED)],
)
def test_owner_choices(choice: str, status: S) -> None:
    assert optimization(S.AWAITING_OWNER).decide(OwnerChoice(choice), T0).status is status


def test_owner_cannot_decide_a_ready_optimization() -> None:
    with pytest.raises(IllegalTransition):
        optimization(S.READY).decide(OwnerChoice.ACCEPT, T0)


def test_expiry_only_for_waiting_optimizations_after_max_wait() -> None:
    waiting = optimization(S.AWAITING_OWNER)
    assert not waiting.is_expired(T0 + timedelta(hours=23), timedelta(days=1))
    assert waiting.is_expired(T0 + timedelta(days=1), timedelta(days=1))
    assert not optimization(S.READY).is_expired(T0 + timedelta(days=9), timedelta(days=1))


PRICES = {
    "A": Price(D(10), True, True, T0),
    "B": Price(D(20), True, True, T0),
    "H": Price(D(5), False, True, T0),
}


def test_external_orders_within_holdings_and_cash_are_valid() -> None:
    orders = [ExternalOrder("B", Side.BUY, D(5)), ExternalOrder("A", Side.SELL, D(10))]
    # buys 100 with 0 cash: funded by the sell of A (100)
    assert validate_external(orders, {"A": D(10)}, D(0), PRICES) == ()
    numbered = external_orders(orders, PRICES)
    assert [(o.leg, o.side, o.symbol, o.notional) for o in numbered] == [
        (1, Side.SELL, "A", D(100)),
        (2, Side.BUY, "B", D(100)),
    ]


def test_external_sell_beyond_holding_is_refused() -> None:
    reasons = validate_external(
        [ExternalOrder("A", Side.SELL, D(6)), ExternalOrder("A", Side.SELL, D(5))],
        {"A": D(10)},
        D(0),
        PRICES,
    )
    assert [(r.code, r.symbol) for r in reasons] == [("EXTERNAL_SELL_EXCEEDS_HOLDING", "A")]


def test_external_buy_beyond_cash_is_refused() -> None:
    reasons = validate_external([ExternalOrder("B", Side.BUY, D("5.01"))], {}, D(100), PRICES)
    assert [r.code for r in reasons] == ["EXTERNAL_BUY_EXCEEDS_CASH"]


@pytest.mark.parametrize(
    ("order", "code"),
    [
        (ExternalOrder("A", Side.BUY, D(0)), "EXTERNAL_INVALID_QUANTITY"),
        (ExternalOrder("Z", Side.BUY, D(1)), "PRICE_MISSING"),
        (ExternalOrder("H", Side.BUY, D(1)), "ASSET_NOT_TRADABLE"),
    ],
)
def test_external_order_problems(order: ExternalOrder, code: str) -> None:
    reasons = validate_external([order], {}, D(1000), PRICES)
    assert [r.code for r in reasons] == [code]
    assert all(r.is_failure for r in reasons)
