"""The tax steps after order generation: each sale carries its lots and estimated gain
(sale_lots.py), then the wash-sale guard redirects or holds back the buys it must
(wash_sale.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

from rebal_optimizer.domain.order_plan import OrderPlan
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices, valuation_problems
from rebal_optimizer.domain.sale_lots import with_sale_lots
from rebal_optimizer.domain.tax_policy import WashSaleGuard
from rebal_optimizer.domain.wash_sale import Fallback, held_back


def taxed(
    plan: OrderPlan,
    portfolio: Portfolio,
    prices: Prices,
    today: date,
    *,
    model_fallbacks: Mapping[str, str] | None = None,
    now: datetime | None = None,
    max_price_age: timedelta | None = None,
) -> OrderPlan:
    """`model_fallbacks`: the followed model's (symbol -> fallback), where a held-back buy may
    go instead when the fallback's price is fresh as of `now` (`max_price_age`) and tradable."""
    if not plan.orders:
        return plan
    settings = portfolio.settings
    known = {s: prices[s].price for s in portfolio.holdings if s in prices}
    plan = with_sale_lots(
        plan, portfolio.lots, portfolio.holdings, known, settings.lot_policy, today
    )
    if settings.wash_sale_guard is WashSaleGuard.HOLD and portfolio.loss_sales:
        usable = {}
        for symbol, fallback in (model_fallbacks or {}).items():
            quote = prices.get(fallback)
            if quote is None or not quote.tradable or now is None or max_price_age is None:
                continue
            if valuation_problems((fallback,), prices, now, max_price_age):
                continue
            whole = not (settings.fractional_trading and quote.fractionable)
            usable[symbol] = Fallback(fallback, quote.price, whole)
        plan = held_back(plan, portfolio.loss_sales, today, usable, settings.min_order_notional)
    return plan
