from __future__ import annotations

from decimal import Decimal as D

import pytest

from rebal_optimizer.domain import (
    ConditionSubType,
    InvalidModel,
    ModelPortfolio,
    ModelStatus,
    RebalanceCondition,
    TargetWeights,
    Weight,
    WeightType,
)


def asset(symbol: str, pct: str) -> Weight:
    return Weight("asset", symbol, D(pct))


def model(*weights: Weight, conditions: tuple[RebalanceCondition, ...] = ()) -> ModelPortfolio:
    return ModelPortfolio("m1", "Growth", weights, rebalance_conditions=conditions)


def test_valid_model_coerces_wire_strings_to_enums() -> None:
    m = model(asset("AAPL", "60"), asset("SPY", "39.50"), Weight("cash", None, D("0.50")))
    assert m.weights[0].type is WeightType.ASSET
    assert m.status is ModelStatus.ACTIVE
    assert m.targets == TargetWeights({"AAPL": D(60), "SPY": D("39.50")}, D("0.50"))


@pytest.mark.parametrize("pct", ["0", "-1", "10.001", "NaN", "Infinity"])
def test_percent_must_be_positive_with_two_decimals(pct: str) -> None:
    with pytest.raises(InvalidModel, match="percent"):
        asset("AAPL", pct)


def test_trailing_zeros_are_not_extra_decimals() -> None:
    assert asset("AAPL", "10.500").percent == D("10.5")


def test_weights_must_sum_to_exactly_100() -> None:
    with pytest.raises(InvalidModel, match=r"sum to 99\.99"):
        model(asset("AAPL", "50"), asset("SPY", "49.99"))


def test_asset_needs_symbol_and_cash_has_none() -> None:
    with pytest.raises(InvalidModel, match="needs a symbol"):
        Weight("asset", None, D(100))
    with pytest.raises(InvalidModel, match="no symbol"):
        Weight("cash", "USD", D(100))


def test_duplicate_symbols_and_two_cash_weights_are_refused() -> None:
    with pytest.raises(InvalidModel, match="duplicate symbol AAPL"):
        model(asset("AAPL", "50"), asset("AAPL", "50"))
    with pytest.raises(InvalidModel, match="duplicate cash"):
        model(Weight("cash", None, D(50)), Weight("cash", None, D(50)))


def test_unknown_weight_type_is_an_invalid_model() -> None:
    with pytest.raises(InvalidModel, match="unknown type"):
        Weight("bond", "X", D(100))  # type: ignore[arg-type]


def test_at_most_one_calendar_condition() -> None:
    weekly = RebalanceCondition("calendar", "weekly", day="Monday")
    monthly = RebalanceCondition("calendar", "monthly", day="15")
    drift = RebalanceCondition("drift_band", "absolute", percent=D(5))
    assert model(asset("AAPL", "100"), conditions=(weekly, drift)).calendar_condition == weekly
    with pytest.raises(InvalidModel, match="at most one calendar"):
        model(asset("AAPL", "100"), conditions=(weekly, monthly))


@pytest.mark.parametrize("pct", [None, D(0), D("-2"), D("1.234")])
def test_drift_band_needs_positive_two_decimal_percent(pct: D | None) -> None:
    with pytest.raises(InvalidModel, match="percent"):
        RebalanceCondition("drift_band", "relative", percent=pct)


@pytest.mark.parametrize(
    ("sub_type", "day", "valid"),
    [
        ("weekly", "Friday", True),
        ("weekly", "Saturday", False),
        ("monthly", "31", True),
        ("monthly", "32", False),
        ("quarterly", "0", False),
        ("annually", "02-29", True),
        ("annually", "02-30", False),
        ("annually", "13-01", False),
        ("annually", None, False),
    ],
)
def test_calendar_day_rules(sub_type: str, day: str | None, valid: bool) -> None:
    if valid:
        assert RebalanceCondition("calendar", sub_type, day=day).day == day  # type: ignore[arg-type]
    else:
        with pytest.raises(InvalidModel, match="day"):
            RebalanceCondition("calendar", sub_type, day=day)  # type: ignore[arg-type]


def test_sub_type_must_match_condition_type() -> None:
    with pytest.raises(InvalidModel, match="drift_band sub_type"):
        RebalanceCondition("drift_band", "weekly", percent=D(1))
    with pytest.raises(InvalidModel, match="calendar sub_type"):
        RebalanceCondition("calendar", "absolute", day="1")


def test_cooldown_must_be_non_negative_integer() -> None:
    with pytest.raises(InvalidModel, match="cooldown_days"):
        ModelPortfolio("m", "x", (asset("A", "100"),), cooldown_days=-1)


def test_relevant_change_detects_weights_and_conditions_only() -> None:
    base = model(asset("AAPL", "100"))
    renamed = ModelPortfolio("m1", "Renamed", base.weights)
    reweighted = model(asset("AAPL", "50"), asset("SPY", "50"))
    banded = model(
        asset("AAPL", "100"),
        conditions=(RebalanceCondition("drift_band", "absolute", percent=D(5)),),
    )
    assert not renamed.rebalance_relevant_change(base)
    assert reweighted.rebalance_relevant_change(base)
    assert banded.rebalance_relevant_change(base)


def test_with_status_returns_new_model() -> None:
    base = model(asset("AAPL", "100"))
    flagged = base.with_status(ModelStatus.NEEDS_ADJUSTMENT)
    assert flagged.status is ModelStatus.NEEDS_ADJUSTMENT
    assert base.status is ModelStatus.ACTIVE


def test_cash_buffer_overlay_keeps_sum_at_100() -> None:
    targets = TargetWeights({"A": D(60), "B": D(40)}, D(0)).with_cash_buffer(D("0.25"))
    assert targets.cash == D("0.25")
    assert sum(targets.assets.values()) + targets.cash == D(100)
    assert targets.assets["A"] == D("59.85")
    assert ConditionSubType.ABSOLUTE == "absolute"
