"""Alpaca's daily evaluation of an automatic trigger (docs/design.md §3 "Triggers and
evaluation"): a pending withdrawal, first funding, cooldown, calendar, drift bands (any met ->
full_rebalance), otherwise invest_cash when uninvested cash exceeds the threshold. The daily limit
is applied to what this decides (conditions.py), so the record shows what it held back."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from decimal import Decimal

from rebal_optimizer.domain.drift import band_met, compute_drifts, largest_drift
from rebal_optimizer.domain.enums import RebalanceTo, RunType, TriggerReason
from rebal_optimizer.domain.governance import kept_in_place
from rebal_optimizer.domain.model_portfolio import ZERO
from rebal_optimizer.domain.policy import Policy, uninvested_cash
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.reasons import COOLDOWN, IN_BAND, NO_CONDITION_MET, Reason
from rebal_optimizer.domain.record import DISPLAY, DecisionRecord, RunDecision
from rebal_optimizer.domain.waiting import first_missing_price

_FIRST_CASH = frozenset({TriggerReason.DEPOSIT, TriggerReason.HOLDINGS})


def automatic(
    record: DecisionRecord,
    portfolio: Portfolio,
    policy: Policy,
    reasons: Collection[TriggerReason],
    calendar_model: str | None,
    prices: Prices,
    today: date,
    problems: list[Reason],
) -> RunDecision:
    """`reasons`: the trigger's and those deferred to now (deferral.py); `calendar_model`: the
    model a calendar trigger names. Holdings that cannot be valued stop it; a missing or stale
    price is waited for."""
    check = record.check
    unvalued = ", ".join(f"{p.code}:{p.symbol}" for p in problems)
    detail = f"holdings cannot be valued: {unvalued}" if unvalued else ""
    threshold = portfolio.settings.invest_cash_threshold
    uninvested = None if unvalued else uninvested_cash(portfolio, policy, prices)
    invest_met = uninvested is not None and uninvested > threshold

    # A withdrawal that could not be started when requested (blocked, awaiting holdings) is
    # picked up by the next automatic evaluation instead of waiting for a new request.
    pending = portfolio.pending_withdrawal
    if check(
        "withdrawal_pending", pending > 0 and pending > portfolio.cash, pending, portfolio.cash
    ):
        return record.run(RunType.WITHDRAWAL, policy, pending)
    if (
        _FIRST_CASH & set(reasons)
        and not portfolio.funded
        and check("first_funding", invest_met, uninvested, threshold, detail)
    ):
        return record.run(RunType.FULL_REBALANCE, policy, first_funding=True)

    # Alpaca re-evaluates subscribers of a changed model even inside cooldown.
    waived = (
        TriggerReason.MODEL_CHANGED in reasons
        or portfolio.cooldown_waived
        or portfolio.targets_changed
    )
    last = portfolio.last_rebalanced_at
    days_since = (today - last).days if last is not None else None
    cooling = (
        days_since is not None and policy.cooldown_days > 0 and days_since < policy.cooldown_days
    )
    in_cooldown = check(
        "in_cooldown",
        cooling and not waived,
        None if days_since is None else Decimal(days_since),
        Decimal(policy.cooldown_days),
        "waived: model or subscription changed" if cooling and waived else "",
    )
    if not in_cooldown:
        if check("targets_changed", portfolio.targets_changed):
            return record.run(RunType.FULL_REBALANCE, policy)
        calendar_met = (
            TriggerReason.CALENDAR in reasons
            and policy.has_calendar
            and calendar_model in (None, policy.model_id)
        )
        if check("calendar", calendar_met, TriggerReason.CALENDAR if calendar_met else None):
            return record.run(RunType.FULL_REBALANCE, policy)
        if drift_bands(record, portfolio, policy, prices, detail):
            return record.run(RunType.FULL_REBALANCE, policy)
    elif portfolio.settings.rebalance_to is RebalanceTo.BAND_EDGE and drift_bands(
        record, portfolio, policy, prices, detail
    ):
        # A band-edge run leaves a position just inside its band, so a cooldown after it would
        # let the next move carry the drift past the band it exists to keep. Its repair is the
        # smallest trade back inside, and the band's inner margin is what keeps it from churning.
        return record.run(RunType.FULL_REBALANCE, policy)
    if check("invest_cash", invest_met, uninvested, threshold, detail):
        return record.run(RunType.INVEST_CASH, policy)
    symbol = first_missing_price(problems)
    if problems:
        rule = problems[0].code
    elif in_cooldown:
        rule = COOLDOWN
    else:
        rule = IN_BAND if policy.drift_bands else NO_CONDITION_MET
    return record.stop(rule, missing=("price", symbol) if symbol is not None else None)


def drift_bands(
    record: DecisionRecord,
    portfolio: Portfolio,
    policy: Policy,
    prices: Prices,
    unvalued_detail: str,
) -> bool:
    """Each band against the largest drift of its kind; met when the drift reaches it."""
    bands = policy.drift_bands
    if unvalued_detail:
        for band in bands:
            record.check(f"drift_band.{band.sub_type}", False, None, band.percent, unvalued_detail)
        return False
    targets = kept_in_place(
        policy.targets.with_cash_buffer(portfolio.settings.cash_buffer_percent),
        portfolio.holdings,
        portfolio.cash,
        prices,
        policy.fallback_map,
    )
    drifts = compute_drifts(portfolio.holdings, portfolio.cash, prices, targets) if bands else ()
    breached = False
    for band in bands:
        assert band.percent is not None  # validated: drift bands always carry a percent
        worst = largest_drift(drifts, band.sub_type)
        value = worst.measure(band.sub_type) if worst is not None else ZERO
        where = "" if worst is None else (worst.symbol or "cash")
        met = record.check(
            f"drift_band.{band.sub_type}",
            band_met(value, band.percent),
            value.quantize(DISPLAY),
            band.percent,
            where,
        )
        breached = breached or met
    return breached
