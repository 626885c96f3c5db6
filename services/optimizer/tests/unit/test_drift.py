from __future__ import annotations

from decimal import Decimal as D

from rebal_optimizer.domain import (
    ConditionSubType,
    TargetWeights,
    compute_drifts,
    current_weights,
    is_band_breached,
    largest_drift,
)


def test_current_weights_from_holdings_times_prices(quote) -> None:
    prices = {"A": quote("10"), "B": quote("20")}
    weights, cash = current_weights({"A": D(30), "B": D(10)}, D(500), prices)
    # values: A 300, B 200, cash 500 → total 1000
    assert weights == {"A": D(30), "B": D(20)}
    assert cash == D(50)


def test_absolute_and_relative_drift(quote) -> None:
    prices = {"A": quote("1")}
    targets = TargetWeights({"A": D(10)}, D(90))
    drifts = compute_drifts({"A": D(12)}, D(88), prices, targets)
    a, cash = drifts
    assert (a.symbol, a.current, a.target) == ("A", D(12), D(10))
    assert a.absolute == D(2)  # percentage points
    assert a.relative == D(20)  # percent of the 10% target
    assert cash.symbol is None and cash.absolute == D(2)


def test_alpaca_band_example(quote) -> None:
    """10% target: a 10% relative band is 9-11%, a 2% absolute band is 8-12%."""
    prices = {"A": quote("1")}
    targets = TargetWeights({"A": D(10)}, D(90))
    at_edge = compute_drifts({"A": D(11)}, D(89), prices, targets)
    beyond = compute_drifts({"A": D("11.01")}, D("88.99"), prices, targets)
    relative_band = D(10)
    assert is_band_breached(at_edge, ConditionSubType.RELATIVE, relative_band)  # reached: >=
    assert is_band_breached(beyond, ConditionSubType.RELATIVE, relative_band)
    inside = compute_drifts({"A": D("10.99")}, D("89.01"), prices, targets)
    assert not is_band_breached(inside, ConditionSubType.RELATIVE, relative_band)
    assert not is_band_breached(beyond, ConditionSubType.ABSOLUTE, D(2))


def test_held_symbol_outside_targets_drifts_by_its_weight(quote) -> None:
    prices = {"A": quote("1"), "X": quote("1")}
    drifts = compute_drifts({"A": D(95), "X": D(5)}, D(0), prices, TargetWeights({"A": D(100)}))
    x = next(d for d in drifts if d.symbol == "X")
    # relative drift against a zero target falls back to percentage points
    assert x.absolute == x.relative == D(5)
    worst = largest_drift(drifts, ConditionSubType.ABSOLUTE)
    assert worst is not None and worst.symbol == "A" and worst.absolute == D(5)


def test_target_not_held_is_fully_underweight(quote) -> None:
    drifts = compute_drifts({}, D(100), {}, TargetWeights({"A": D(100)}))
    assert [(d.symbol, d.absolute, d.relative) for d in drifts] == [
        ("A", D(100), D(100)),
        (None, D(100), D(100)),
    ]


def test_empty_portfolio_has_no_drift(quote) -> None:
    assert compute_drifts({}, D(0), {}, TargetWeights({"A": D(100)})) == ()
