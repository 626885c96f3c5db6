"""The decision record an evaluation leaves, run or no run: what it saw (the model and its
revision, every held or targeted position with its quantity, price and drift, cash), every check in
order with its value and threshold, and the rule that decided (`RunDecision.rule` when it starts
no run, the last met check when it does)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from rebal_optimizer.domain.deferral import Deferred
from rebal_optimizer.domain.drift import Drift, band_met, compute_drifts
from rebal_optimizer.domain.enums import ModelStatus, RunType
from rebal_optimizer.domain.model_portfolio import ZERO, ModelPortfolio, RebalanceCondition
from rebal_optimizer.domain.model_portfolio import TargetWeights as Targets
from rebal_optimizer.domain.policy import Policy
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Price, Prices
from rebal_optimizer.domain.reasons import Reason
from rebal_optimizer.domain.triggers import ConditionEvaluation
from rebal_optimizer.domain.waiting import WaitKind

DISPLAY = Decimal("0.000001")


@dataclass(frozen=True, slots=True)
class RunDecision:
    run_type: RunType | None
    record: tuple[ConditionEvaluation, ...]
    policy: Policy | None = None
    amount: Decimal | None = None
    rule: str | None = None  # the rule that started no run (reasons.py); None when one starts
    first_funding: bool = False
    missing: tuple[WaitKind, str] | None = None  # the price or model it could not do without
    deferred: Deferred | None = None  # what the portfolio defers after this decision
    notes: tuple[Reason, ...] = ()  # informing reasons for the optimization (DEFERRED, ...)
    needs_adjustment: tuple[str, ...] = ()  # ineligible symbols of the followed model


class DecisionRecord:
    """Collects the record; `check` returns the outcome so checks read as conditions."""

    def __init__(self, deferred: Deferred | None) -> None:
        self.lines: list[ConditionEvaluation] = []
        self.deferred = deferred
        self.notes: list[Reason] = []
        self.needs_adjustment: tuple[str, ...] = ()

    def check(
        self,
        name: str,
        met: bool,
        value: str | Decimal | None = None,
        threshold: str | Decimal | None = None,
        detail: str = "",
    ) -> bool:
        self.lines.append(ConditionEvaluation(name, met, value, threshold, detail))
        return met

    def stop(self, rule: str, missing: tuple[WaitKind, str] | None = None) -> RunDecision:
        return RunDecision(
            None,
            tuple(self.lines),
            rule=rule,
            missing=missing,
            deferred=self.deferred,
            notes=tuple(self.notes),
            needs_adjustment=self.needs_adjustment,
        )

    def run(
        self,
        run_type: RunType,
        policy: Policy,
        amount: Decimal | None = None,
        first_funding: bool = False,
    ) -> RunDecision:
        return RunDecision(
            run_type,
            tuple(self.lines),
            policy,
            amount,
            first_funding=first_funding,
            deferred=self.deferred,
            notes=tuple(self.notes),
        )


def seen(
    portfolio: Portfolio, policy: Policy | None, prices: Prices, model: ModelPortfolio | None
) -> list[ConditionEvaluation]:
    """The record's first lines: the model, then `position.<symbol>` for every held or targeted
    symbol (value: quantity held, threshold: target percent with the cash buffer; detail: price,
    its time and flags, current weight and drift) and `position.cash`; `met` says the position's
    drift reaches one of the policy's drift bands. Drift is left out while a holding has no
    usable price."""
    lines: list[ConditionEvaluation] = []
    if model is not None:
        detail = f"revision={model.revision or '-'} status={model.status}"
        lines.append(
            ConditionEvaluation(
                "model", model.status is ModelStatus.ACTIVE, model.model_id, None, detail
            )
        )
    buffer = portfolio.settings.cash_buffer_percent
    targets = policy.targets.with_cash_buffer(buffer) if policy is not None else Targets({})
    held = {s: q for s, q in portfolio.holdings.items() if q != 0}
    valued = all(s in prices and prices[s].price.is_finite() and prices[s].price > 0 for s in held)
    drifts = (
        {d.symbol: d for d in compute_drifts(held, portfolio.cash, prices, targets)}
        if valued
        else {}
    )
    bands = policy.drift_bands if policy is not None else ()
    for symbol in sorted(set(held) | set(targets.assets)):
        lines.append(
            _position(
                symbol,
                held.get(symbol, ZERO),
                targets.assets.get(symbol, ZERO),
                prices.get(symbol),
                drifts.get(symbol),
                bands,
            )
        )
    lines.append(_position(None, portfolio.cash, targets.cash, None, drifts.get(None), bands))
    return lines


def _position(
    symbol: str | None,
    quantity: Decimal,
    target: Decimal,
    quote: Price | None,
    drift: Drift | None,
    bands: Sequence[RebalanceCondition],
) -> ConditionEvaluation:
    parts: list[str] = []
    if symbol is not None:
        parts.append("price=none" if quote is None else f"price={quote.price}")
        if quote is not None:
            parts.append(f"as_of={quote.as_of.isoformat()}")
            parts += [] if quote.tradable else ["tradable=false"]
            parts += [] if quote.fractionable else ["fractionable=false"]
    met = False
    if drift is not None:
        parts.append(f"weight={_shown(drift.current)}")
        parts.append(f"absolute={_shown(drift.absolute)} relative={_shown(drift.relative)}")
        met = any(
            band.percent is not None and band_met(drift.measure(band.sub_type), band.percent)
            for band in bands
        )
    name = f"position.{symbol or 'cash'}"
    return ConditionEvaluation(name, met, format(quantity, "f"), _shown(target), " ".join(parts))


def _shown(value: Decimal) -> str:
    """Text, as the record keeps it: at most 6 places, no trailing zeros."""
    return format(value.quantize(DISPLAY).normalize() if value else ZERO, "f")
