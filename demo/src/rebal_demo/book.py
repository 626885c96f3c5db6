"""The demo's own book of every portfolio: what the client believes it holds, and its drift."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from rebal_schemas import ModelUpdated

ZERO = Decimal(0)


@dataclass
class Account:
    holdings: dict[str, Decimal] = field(default_factory=dict)
    cash: Decimal = ZERO

    def value(self, prices: Mapping[str, Decimal]) -> Decimal:
        return self.cash + sum((q * prices[s] for s, q in self.holdings.items()), ZERO)

    def apply(self, holdings_delta: Mapping[str, Decimal], cash_delta: Decimal) -> None:
        for symbol, qty in holdings_delta.items():
            self.holdings[symbol] = self.holdings.get(symbol, ZERO) + qty
        self.cash += cash_delta

    def max_drift(self, model: ModelUpdated, prices: Mapping[str, Decimal]) -> Decimal:
        """Largest absolute drift, in percentage points, over the model's assets and cash."""
        total = self.value(prices)
        if total <= 0:
            return ZERO
        worst = ZERO
        for weight in model.weights:
            if weight.type == "cash":
                current = self.cash / total * 100
            else:
                assert weight.symbol is not None
                current = (
                    self.holdings.get(weight.symbol, ZERO) * prices[weight.symbol] / total * 100
                )
            worst = max(worst, abs(current - weight.percent))
        return worst


def balanced_account(model: ModelUpdated, value: Decimal, prices: Mapping[str, Decimal]) -> Account:
    """An account invested exactly at the model's weights (whole 1e-9 shares, rest in cash)."""
    account = Account()
    invested = ZERO
    for weight in model.weights:
        if weight.type == "asset":
            assert weight.symbol is not None
            qty = (value * weight.percent / 100 / prices[weight.symbol]).quantize(
                Decimal("0.000000001")
            )
            account.holdings[weight.symbol] = qty
            invested += qty * prices[weight.symbol]
    account.cash = (value - invested).quantize(Decimal("0.01"))
    return account


def breaches_band(account: Account, model: ModelUpdated, prices: Mapping[str, Decimal]) -> bool:
    """Whether any of the model's drift bands is breached (Alpaca: absolute pp, relative % of target)."""
    total = account.value(prices)
    if total <= 0:
        return False
    for weight in model.weights:
        if weight.type == "cash":
            current = account.cash / total * 100
        else:
            assert weight.symbol is not None
            current = (
                account.holdings.get(weight.symbol, ZERO) * prices[weight.symbol] / total * 100
            )
        drift = abs(current - weight.percent)
        for band in model.rebalance_conditions:
            if band.type != "drift_band" or band.percent is None:
                continue
            measured = drift if band.sub_type == "absolute" else drift / weight.percent * 100
            if measured > band.percent:
                return True
    return False
