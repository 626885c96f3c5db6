"""The read model as InvestSuite-style JSON: portfolio, optimization, transaction (pure).

Ids are rebal's (strings); decimals are strings, times RFC 3339 in UTC, as on `/v1/rebalancing`.
A transaction is one leg of a run: what run.completed executed (or failed), else what the
optimizer planned, with the InvestSuite movement status (PLANNED, EXECUTED, SETTLED,
NOT_EXECUTED, EXPIRED, CANCELLED) that transaction.settled and run.settled bring.
"""

from __future__ import annotations

from typing import Any

from rebal_api.domain.alpaca import dec, skipped_json, ts, weight_json
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import OrderView, PlannedView, RunView

Json = dict[str, Any]


def settings_json(view: PortfolioView) -> Json:
    s = view.settings
    return {
        "mandate": s.mandate,
        "broker_integration": s.broker_integration,
        "optimizer": s.optimizer,
        "model_id": s.model_id,
        "target_weights": [weight_json(w) for w in s.target_weights],
        "fractional_trading": s.fractional_trading,
        "min_order_notional": dec(s.min_order_notional),
        "cash_buffer_percent": dec(s.cash_buffer_percent),
        "invest_cash_threshold": dec(s.invest_cash_threshold),
        "active": s.active,
        "rebalance_to": s.rebalance_to,
        "band_edge_margin_percent": dec(s.band_edge_margin_percent),
        "lot_policy": s.lot_policy,
        "wash_sale_guard": s.wash_sale_guard,
        "commission_per_order": dec(s.commission_per_order),
        "spread_bps": dec(s.spread_bps),
        "spread_bps_by_symbol": {k: dec(v) for k, v in sorted(s.spread_bps_by_symbol.items())},
        "cost_gate_threshold": dec(s.cost_gate_threshold),
        "carry_forward_skipped": s.carry_forward_skipped,
        "max_order_retries": s.max_order_retries,
    }


def portfolio_json(view: PortfolioView, blocking: RunView | None = None) -> Json:
    """`blocking`: the run of the optimization that blocks the portfolio, when known."""
    block = view.block
    return {
        "id": view.portfolio_id,
        "account_id": view.account_id,
        "currency": "USD",
        "cash": dec(view.cash),
        "holdings": [
            {"symbol": symbol, "quantity": dec(qty)}
            for symbol, qty in sorted(view.holdings.items())
        ],
        "holdings_as_of": ts(view.holdings_as_of),
        "pending_withdrawal": dec(view.pending_withdrawal),
        "full_withdrawal": view.full_withdrawal,
        "settings": settings_json(view),
        "blocked": block is not None,
        "blocking_run": None
        if block is None
        else {
            "run_id": block.optimization_id,
            "optimization_id": block.optimization_id,
            "run_type": block.run_type,
            "blocked_since": ts(block.since),
            "status": blocking.status if blocking is not None else None,
            "alpaca_run_id": blocking.uuid if blocking is not None else None,
        },
        "last_optimization_id": view.last_optimization_id,
        "created_at": ts(view.created_at),
        "updated_at": ts(view.updated_at),
    }


def planned_json(order: PlannedView) -> Json:
    return {
        "leg": order.leg,
        "symbol": order.symbol,
        "side": order.side,
        "qty": dec(order.qty),
        "notional": dec(order.notional),
        "expected_price": dec(order.expected_price),
    }


def optimization_json(view: OptimizationView) -> Json:
    return {
        "id": view.optimization_id,
        "portfolio_id": view.portfolio_id,
        "account_id": view.account_id,
        "status": view.status,
        "is_recommended": view.is_recommended,
        "run_type": view.run_type,
        "trigger": view.trigger,
        "initiated_from": view.initiated_from,
        "source": view.source,
        "mandate": view.mandate,
        "broker_integration": view.broker_integration,
        "amount": dec(view.amount),
        "shortfall": dec(view.shortfall),
        "expires_at": ts(view.expires_at),
        "created_at": ts(view.created_at),
        "updated_at": ts(view.updated_at),
        "owner_choice": view.owner_choice,
        "owner_choice_requested": view.choice_requested,
        "owner_choice_refused": view.choice_refused,
        "detail": view.detail,
        "weights": [weight_json(w) for w in view.weights],
        "orders": [planned_json(o) for o in view.orders],
        "skipped_orders": [skipped_json(s) for s in view.skipped_orders],
        "reasons": [{"code": r.code, "detail": r.detail} for r in view.reasons],
        "decision": [
            {
                "name": e.name,
                "met": e.met,
                "value": e.value,
                "threshold": e.threshold,
                "detail": e.detail,
            }
            for e in view.decision
        ],
    }


def _executed(run: RunView, order: OrderView) -> Json:
    return {
        "status": run.transaction_status(order),
        "order_status": order.status,
        "qty": dec(order.qty),
        "notional": dec(order.notional),
        "filled_qty": dec(order.filled_qty),
        "filled_avg_price": dec(order.filled_avg_price),
        "executed_at": ts(order.filled_at),
    }


def _planned(run: RunView, order: PlannedView) -> Json:
    state = run.leg(order.leg)
    return {
        "status": state.status if state is not None else "PLANNED",
        "order_status": None,
        "qty": dec(order.qty),
        "notional": dec(order.notional),
        "filled_qty": None,
        "filled_avg_price": None,
        "executed_at": None,
    }


def transactions(run: RunView) -> list[Json]:
    """The run's legs in order: the orders run.completed reported, else the planned ones."""
    reported = sorted((*run.orders, *run.failed_orders), key=lambda o: o.leg)
    legs: list[tuple[int, str, str, Json]] = (
        [(o.leg, o.symbol, o.side, _executed(run, o)) for o in reported]
        if reported
        else [(o.leg, o.symbol, o.side, _planned(run, o)) for o in run.planned]
    )
    rows = []
    for leg, symbol, side, body in legs:
        state = run.leg(leg)
        rows.append(
            {
                "id": f"{run.run_id}-{leg}",
                "run_id": run.run_id,
                "leg": leg,
                "symbol": symbol,
                "side": side,
                **body,
                "trade_date": state.trade_date.isoformat() if state and state.trade_date else None,
                "settlement_date": state.settlement_date.isoformat()
                if state and state.settlement_date
                else None,
                "settled_at": ts(state.settled_at) if state else None,
                "run_type": run.type,
                "run_status": run.status,
                "created_at": ts(run.created_at),
            }
        )
    return rows
