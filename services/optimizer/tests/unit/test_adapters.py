"""Adapters: store documents round-trip exactly, trading days, clock, settings, wire shapes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from rebal_optimizer.adapters.domain_json import (
    model_json,
    model_of,
    optimization_json,
    optimization_of,
)
from rebal_optimizer.adapters.portfolio_document import (
    PortfolioRecord,
    record_from_document,
    record_to_document,
    sortable_instant,
)
from rebal_optimizer.domain import (
    AwaitingOwner,
    ConditionEvaluation,
    ModelPortfolio,
    Optimization,
    Order,
    Portfolio,
    PortfolioSettings,
    Price,
    RebalanceCondition,
    RunType,
    Side,
    Trigger,
    Weight,
    trading_day_of,
)
from rebal_optimizer.domain import evaluation as domain_evaluation
from rebal_optimizer.service_layer.messages import optimization_id_for, planned_order
from rebal_optimizer.service_layer.stop_reasons import rule_reason
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime.calendar import ALWAYS_OPEN, ExchangeCalendar, trading_calendar
from rebal_runtime.clock import FakeClock

NOW = datetime(2026, 3, 4, 15, tzinfo=UTC)
MODEL = ModelPortfolio(
    "m1",
    "Balanced",
    (Weight("asset", "A", D("49.5")), Weight("cash", None, D("50.5"))),
    cooldown_days=7,
    rebalance_conditions=(
        RebalanceCondition("drift_band", "relative", percent=D("12.5")),
        RebalanceCondition("calendar", "annually", day="03-31"),
    ),
)


def test_model_round_trips() -> None:
    assert model_of(model_json(MODEL)) == MODEL


def test_portfolio_record_with_a_waiting_optimization_round_trips(trading_days) -> None:
    settings = PortfolioSettings(
        mandate="ADVISORY",
        broker_integration="CLIENT",
        model_id="m1",
        fractional_trading=False,
        min_order_notional=D("2.50"),
        cash_buffer_percent=D("1.5"),
    )
    portfolio = Portfolio(
        "p1",
        {"A": D("10.123456789")},
        D("1000.01"),
        settings,
        funded=True,
        holdings_as_of=NOW,
        pending_withdrawal=D(3),
    )
    prices = {"A": Price(D("12.34"), True, True, NOW)}
    evaluation = domain_evaluation.evaluate(
        portfolio,
        Trigger("manual"),
        MODEL,
        prices,
        optimization_id="O1",
        now=NOW,
        today=NOW.date(),
        trading_days=trading_days,
        max_price_age=timedelta(minutes=5),
    )
    opt = evaluation.optimization
    assert opt is not None and opt.orders and opt.decision
    record = PortfolioRecord(
        evaluation.portfolio,
        "acct",
        awaiting=opt,
        expires_at=NOW + timedelta(days=2),
        recent_slots=("s1",),
        pending_history=({"id": "O1", "body": {"x": 1}},),
        recent_late_fills=("r1/3",),
    )
    assert record.portfolio.origin is not None  # kept for a re-plan, round-trips too
    again = record_from_document(record_to_document(record))
    assert again.portfolio == record.portfolio
    assert again.awaiting is not None
    assert optimization_json(again.awaiting) == optimization_json(opt)
    assert again.awaiting.run_type is RunType.FULL_REBALANCE  # enums, not bare strings
    assert all(isinstance(o.side, Side) for o in again.awaiting.orders)
    assert again == record
    assert again.portfolio.awaiting_owner == AwaitingOwner("O1", NOW)
    assert record.index() == {
        "model_id": "m1",
        "expires_at": "2026-03-06T15:00:00.000000Z",
        "waiting_for": None,
        "blocked_at": None,
        "subscribed_account": "acct",
        "subscription_due": None,
    }


def test_optimization_json_keeps_decimals_exact() -> None:
    order = Order(1, "A", Side.BUY, D("0.000000001"), D("0.01"), D("12345678.123456"))
    opt = Optimization(
        "O1",
        "p1",
        RunType.INVEST_CASH,
        "deposit",
        "system",
        "DISCRETIONARY",
        True,
        (order,),
        (),
        (),
        (),
        (),
        NOW,
    )  # type: ignore[arg-type]
    assert optimization_of(optimization_json(opt)).orders == (order,)


def test_sortable_instants_sort_as_text_like_time() -> None:
    earlier = datetime(2026, 3, 4, 9, 59, 59, 999999, tzinfo=UTC)
    later = datetime(2026, 3, 4, 6, 0, tzinfo=UTC) + timedelta(hours=4)
    assert sortable_instant(earlier) < sortable_instant(later)
    from zoneinfo import ZoneInfo

    local = later.astimezone(ZoneInfo("America/New_York"))
    assert sortable_instant(local) == sortable_instant(later)


@pytest.fixture(scope="module")
def xnys() -> ExchangeCalendar:
    return ExchangeCalendar("XNYS").load()


def test_trading_day_of_an_evaluation_on_the_exchange(xnys: ExchangeCalendar) -> None:
    """The runtime calendar as the domain's port (its own tests: libs/runtime/tests/unit)."""
    assert trading_day_of(date(2026, 7, 2), xnys) == date(2026, 7, 2)
    assert trading_day_of(date(2026, 7, 3), xnys) == date(2026, 7, 2)  # Independence Day obs.
    assert trading_day_of(date(2026, 7, 5), xnys) == date(2026, 7, 2)  # the Sunday after
    # beyond the loaded range: Monday..Friday
    assert trading_day_of(date(2090, 1, 4), xnys) == date(2090, 1, 4)  # a Wednesday
    assert trading_day_of(date(2090, 1, 7), xnys) == date(2090, 1, 6)  # Saturday -> Friday
    assert trading_day_of(date(2090, 1, 8), xnys) == date(2090, 1, 6)  # Sunday -> Friday


def test_always_open_days_are_every_day() -> None:
    assert trading_day_of(date(2026, 3, 7), trading_calendar(ALWAYS_OPEN)) == date(2026, 3, 7)


async def test_fake_clock_moves_and_wakes_sleepers() -> None:
    import asyncio

    clock = FakeClock(NOW)
    sleeper = asyncio.create_task(clock.sleep(60))
    await asyncio.sleep(0)
    assert clock.advance(timedelta(days=1)) == NOW + timedelta(days=1)
    await asyncio.wait_for(sleeper, 1)
    with pytest.raises(ValueError, match="aware"):
        FakeClock(datetime(2026, 1, 1))


def test_optimization_ids_have_investsuites_shape_and_depend_on_the_cause() -> None:
    first = optimization_id_for("event-1", "p1")
    assert re.fullmatch(r"O[0-9A-HJKMNP-TV-Z]{26}", first)
    assert first == optimization_id_for("event-1", "p1")
    assert first != optimization_id_for("event-2", "p1") != optimization_id_for("event-1", "p2")


@pytest.mark.parametrize(
    ("side", "qty", "by"),
    [
        (Side.SELL, D("1.5"), "qty"),
        (Side.BUY, D("1.5"), "notional"),
        (Side.BUY, D(2), "qty"),
    ],
)
def test_wire_orders_sell_by_qty_and_buy_fractions_by_notional(side, qty, by) -> None:
    order = planned_order(Order(1, "A", side, qty, D("15.00"), D(10)))
    assert (order.qty is not None, order.notional is not None) == (by == "qty", by == "notional")
    assert order.expected_price == D(10)


def test_rule_reason_names_the_rule_with_the_values_of_its_lines() -> None:
    record = (ConditionEvaluation("inactive", False), ConditionEvaluation("blocked", True, "O1"))
    reason = rule_reason("BLOCKED", record)
    assert reason.code == "BLOCKED" and reason.detail == "blocked: O1"
    band = ConditionEvaluation("drift_band.absolute", False, D("3.5"), D(5), "SPY")
    in_band = rule_reason("IN_BAND", (band,))
    assert (
        in_band.code == "IN_BAND" and in_band.detail == "drift_band.absolute: 3.5 SPY (threshold 5)"
    )
    assert rule_reason(None, ()).code == "NO_CONDITION_MET"


def test_settings_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("REBAL_PROFILE", "dev")
    monkeypatch.setenv("REBAL_TRADING_CALENDAR", "ALWAYS_OPEN")
    monkeypatch.setenv("REBAL_ADVISORY_EXPIRY_SECONDS", "30")
    settings = OptimizerSettings()
    assert settings.service_name == "optimizer" and settings.trading_calendar == "ALWAYS_OPEN"
    assert settings.advisory_expiry == timedelta(seconds=30)
    assert settings.max_price_age == timedelta(days=4)
    documented = {n for n, f in OptimizerSettings.model_fields.items() if f.description}
    assert set(OptimizerSettings.model_fields) == documented


def test_benchmark_switch_needs_the_dev_profile() -> None:
    with pytest.raises(ValueError, match="REBAL_HISTORY_ENABLED=false"):
        OptimizerSettings(history_enabled=False)
    assert not OptimizerSettings(profile="dev", history_enabled=False).history_enabled
