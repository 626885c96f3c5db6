"""The tax steps after order generation: each sale carries its lots and estimated gain
(sale_lots.py), then the wash-sale guard holds back the buys it must (wash_sale.py)."""

from __future__ import annotations

from datetime import date

from rebal_optimizer.domain.orders import OrderPlan
from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.prices import Prices
from rebal_optimizer.domain.sale_lots import with_sale_lots
from rebal_optimizer.domain.tax_policy import WashSaleGuard
from rebal_optimizer.domain.wash_sale import held_back


def taxed(plan: OrderPlan, portfolio: Portfolio, prices: Prices, today: date) -> OrderPlan:
    if not plan.orders:
        return plan
    settings = portfolio.settings
    known = {s: prices[s].price for s in portfolio.holdings if s in prices}
    plan = with_sale_lots(
        plan, portfolio.lots, portfolio.holdings, known, settings.lot_policy, today
    )
    if settings.wash_sale_guard is WashSaleGuard.HOLD and portfolio.loss_sales:
        plan = held_back(plan, portfolio.loss_sales, today)
    return plan
