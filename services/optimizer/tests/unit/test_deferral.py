"""Nothing held back is dropped (domain/deferral.py): a run the daily limit holds is deferred to
the next trading day and acted on by the first automatic evaluation then (the nightly batch); a
calendar slot that meets a blocked portfolio runs once when the portfolio unblocks."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

from rebal_optimizer.domain import Deferred, RunType, Trigger, TriggerReason, next_trading_day
from rebal_runtime.calendar import weekday_calendar
from rebal_schemas import OptimizationCreated, RebalanceCondition, RebalanceRequested

from ..run_events import completed, settled  # type: ignore[import-not-found]
from .conftest import Env, held
from .test_conditions import BALANCED, DRIFTED, TODAY, line, run, run_type

CALENDAR = Trigger(TriggerReason.CALENDAR, model_id="m1")


class _Beyond:
    """A calendar without data for the days asked."""

    def is_session(self, day: date) -> bool:
        raise LookupError(day)

    def previous_session(self, day: date) -> date:
        raise LookupError(day)


def test_the_next_trading_day_skips_weekends_and_the_unknown() -> None:
    friday = date(2026, 3, 6)
    assert next_trading_day(friday, weekday_calendar()) == date(2026, 3, 9)
    assert next_trading_day(TODAY, weekday_calendar()) == date(2026, 3, 5)
    assert next_trading_day(friday, _Beyond()) == date(2026, 3, 9)


def test_a_drift_breach_held_by_the_daily_limit_is_deferred_to_the_next_trading_day(
    trading_days,
) -> None:
    used = replace(DRIFTED, last_automatic_optimization_day=TODAY)
    evaluation = run(used, "drift_sweep", trading_days)
    assert evaluation.optimization is None and evaluation.rule == "DAILY_LIMIT"
    assert line(evaluation, "drift_band.absolute").met  # what it held back is on the record
    assert line(evaluation, "daily_limit").met
    assert evaluation.portfolio.deferred == Deferred(
        (TriggerReason.DRIFT_SWEEP,), date(2026, 3, 5), None
    )
    (note,) = evaluation.notes
    assert note.code == "DEFERRED" and "full_rebalance (drift_sweep)" in note.detail
    assert "2026-03-05" in note.detail
    # the next trading day's nightly batch acts on it
    tomorrow = run(evaluation.portfolio, "nightly", trading_days, today=date(2026, 3, 5))
    assert run_type(tomorrow) is RunType.FULL_REBALANCE
    assert line(tomorrow, "deferred").value == "drift_sweep"
    assert tomorrow.portfolio.deferred is None


def test_a_deferral_is_kept_until_its_day(trading_days) -> None:
    deferred = Deferred((TriggerReason.DEPOSIT,), date(2026, 3, 5))
    waiting = replace(BALANCED, deferred=deferred)
    evaluation = run(waiting, "nightly", trading_days)
    assert evaluation.portfolio.deferred == deferred
    assert not any(c.name == "deferred" for c in evaluation.decision)


def test_a_deferred_deposit_of_a_portfolio_never_funded_is_a_first_funding(trading_days) -> None:
    cash = replace(BALANCED, holdings={}, cash=D(1000), funded=False)
    used = replace(cash, last_automatic_optimization_day=TODAY)
    held_back = run(used, "deposit", trading_days)
    assert held_back.rule == "DAILY_LIMIT" and line(held_back, "first_funding").met
    later = run(held_back.portfolio, "nightly", trading_days, today=date(2026, 3, 5))
    assert line(later, "first_funding").met and run_type(later) is RunType.FULL_REBALANCE


def test_a_calendar_slot_meeting_a_blocked_portfolio_runs_when_it_unblocks(trading_days) -> None:
    blocked = replace(BALANCED, blocked_by="O0", blocked_run_type=RunType.WITHDRAWAL)
    evaluation = run(blocked, CALENDAR, trading_days)
    assert evaluation.rule == "BLOCKED"
    assert evaluation.portfolio.deferred == Deferred((TriggerReason.CALENDAR,), None, "m1")
    assert [n.code for n in evaluation.notes] == ["DEFERRED"]
    still = run(evaluation.portfolio, "nightly", trading_days)  # still blocked: kept
    assert still.portfolio.deferred == evaluation.portfolio.deferred
    unblocked = replace(evaluation.portfolio, blocked_by=None, blocked_run_type=None)
    after = run(unblocked, "nightly", trading_days)
    assert line(after, "calendar").met and after.optimization is not None
    assert after.portfolio.deferred is None


def test_a_nightly_does_not_take_another_models_calendar(trading_days) -> None:
    other = replace(BALANCED, deferred=Deferred((TriggerReason.CALENDAR,), None, "m2"))
    assert not line(run(other, "nightly", trading_days), "calendar").met


# -- the service: a calendar slot deferred at a block, evaluated by the run's outcome ----------


async def calendar_subscriber(env: Env) -> OptimizationCreated:
    """p1 follows m1 (monthly calendar), funded today: blocked by its first run."""
    calendar = (RebalanceCondition(type="calendar", sub_type="monthly", day="4"),)
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    await env.model("m1", conditions=calendar)
    await env.funded("p1")
    (first,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    return first


async def test_a_calendar_slot_deferred_by_a_block_runs_once_at_unblock(env: Env) -> None:
    first = await calendar_subscriber(env)
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    slot = RebalanceRequested(
        scope="portfolio", portfolio_id="p1", reason="calendar", model_id="m1", slot_id="c:m1"
    )
    await env.handlers.rebalance_requested(slot)
    assert held(env.new()) == ["BLOCKED"]
    assert (await env.record("p1")).portfolio.deferred.at_unblock
    run_ = completed(first, cash_delta=D("-9500"), holdings_delta={"SPY": D(55), "TLT": D(70)})
    await env.handlers.run_completed(run_)
    assert env.new() == []  # unblocks at settlement
    outcome = settled(run_)
    await env.handlers.run_settled(outcome)
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert (
        opt.trigger == "calendar" and opt.status == "READY" and opt.causation_id == outcome.event_id
    )
    assert any(c.name == "calendar" and c.met for c in opt.decision)
    assert (await env.record("p1")).portfolio.deferred is None
    await env.handlers.run_settled(outcome)  # redelivered: once
    assert env.new() == []


async def test_unblocked_on_a_day_already_used_the_slot_waits_for_the_nightly(env: Env) -> None:
    first = await calendar_subscriber(env)  # today's automatic optimization
    slot = RebalanceRequested(
        scope="portfolio", portfolio_id="p1", reason="calendar", model_id="m1", slot_id="c:m1"
    )
    await env.handlers.rebalance_requested(slot)
    run_ = completed(first, cash_delta=D("-9500"), holdings_delta={"SPY": D(55), "TLT": D(70)})
    await env.handlers.run_completed(run_)
    await env.handlers.run_settled(settled(run_))
    assert held(env.new()) == ["BLOCKED", "DAILY_LIMIT"]
    deferred = (await env.record("p1")).portfolio.deferred
    assert deferred.until == date(2026, 3, 5) and deferred.reasons == ("calendar",)
    env.clock.advance(timedelta(days=1))
    await env.price("SPY", "100")
    await env.price("TLT", "50")
    nightly = RebalanceRequested(scope="portfolio", portfolio_id="p1", reason="nightly")
    await env.handlers.rebalance_requested(nightly)
    (opt,) = [e for e in env.new() if isinstance(e, OptimizationCreated)]
    assert opt.trigger == "nightly" and opt.status == "READY"
    assert any(c.name == "deferred" and c.value == "calendar" for c in opt.decision)


def test_a_deferral_is_kept_while_prices_are_missing(trading_days) -> None:
    calendar = Deferred((TriggerReason.CALENDAR,), None, "m1")
    unpriced = run(replace(BALANCED, deferred=calendar), "nightly", trading_days, prices={})
    assert unpriced.optimization is not None and not unpriced.optimization.is_recommended
    assert unpriced.portfolio.deferred == calendar  # the failed plan did not act on it
    drift = Deferred((TriggerReason.DRIFT_SWEEP,), date(2026, 3, 4))
    unvalued = run(replace(BALANCED, deferred=drift), "nightly", trading_days, prices={})
    assert unvalued.rule == "PRICE_MISSING" and unvalued.portfolio.deferred == drift
