"""The tables `rebal runs`, `rebal show` and `rebal optimization` print (rich), from the api's
JSON (`/v1/rebalancing/runs`, `/v1/portfolios/...`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table

Json = dict[str, Any]


_SHORT = frozenset({"created", "status", "type", "orders", "leg", "side", "symbol", "met"})
"""Columns that are never folded (the ids and texts are)."""


def _table(title: str | None, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        table.add_column(name, overflow="fold", no_wrap=name in _SHORT)
    return table


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _when(value: Any) -> str:
    """An RFC 3339 time to the second, as `2026-03-02 15:00:00`."""
    return _text(value)[:19].replace("T", " ")


def runs_table(items: list[Json]) -> Table:
    table = _table(None, "created", "status", "type", "portfolio", "run", "orders", "reason")
    for run in items:
        orders = run.get("orders", [])
        failed = run.get("failed_orders", [])
        table.add_row(
            _when(run.get("created_at")),
            _text(run.get("status")),
            _text(run.get("type")),
            _text(run.get("rebal_portfolio_id")),
            _text(run.get("rebal_run_id") or run.get("id")),
            f"{len(orders)}/{len(orders) + len(failed)}",
            _text(run.get("reason")),
        )
    return table


def _pairs(title: str, pairs: Iterator[tuple[str, Any]]) -> Table:
    table = _table(title, "", "")
    table.show_header = False
    for name, value in pairs:
        table.add_row(name, _text(value))
    return table


def portfolio_view(portfolio: Json) -> RenderableType:
    block = portfolio.get("blocking_run")
    blocked = (
        f"yes, by {block['run_id']} ({block['run_type']}, {_text(block.get('status'))}) "
        f"since {block['blocked_since']}"
        if block
        else "no"
    )
    summary = _pairs(
        f"portfolio {portfolio['id']}",
        iter(
            [
                ("account", portfolio.get("account_id")),
                ("cash", portfolio.get("cash")),
                ("pending withdrawal", portfolio.get("pending_withdrawal")),
                ("blocked", blocked),
                ("last optimization", portfolio.get("last_optimization_id")),
                ("holdings as of", portfolio.get("holdings_as_of")),
            ]
        ),
    )
    holdings = _table("holdings", "symbol", "quantity")
    for holding in portfolio.get("holdings", []):
        holdings.add_row(holding["symbol"], holding["quantity"])
    settings = dict(portfolio.get("settings", {}))
    weights = settings.pop("target_weights", [])
    settings["target_weights"] = " ".join(
        f"{w.get('symbol') or 'cash'}={w['percent']}" for w in weights
    )
    return Group(summary, holdings, _pairs("settings", iter(settings.items())))


def optimization_view(opt: Json) -> RenderableType:
    summary = _pairs(
        f"optimization {opt['id']}",
        iter(
            [
                ("portfolio", opt.get("portfolio_id")),
                ("status", opt.get("status")),
                ("recommended", opt.get("is_recommended")),
                ("run type", opt.get("run_type")),
                ("trigger", opt.get("trigger")),
                ("mandate", opt.get("mandate")),
                ("created", opt.get("created_at")),
                ("owner choice", opt.get("owner_choice") or opt.get("owner_choice_requested")),
                ("refused", opt.get("owner_choice_refused")),
            ]
        ),
    )
    orders = _table("orders", "leg", "side", "symbol", "qty", "notional")
    for order in opt.get("orders", []):
        orders.add_row(
            str(order["leg"]),
            order["side"],
            order["symbol"],
            _text(order.get("qty")),
            _text(order.get("notional")),
        )
    decision = _table("decision record", "condition", "met", "value", "threshold", "detail")
    for line in opt.get("decision", []):
        decision.add_row(
            line["name"],
            "yes" if line["met"] else "no",
            _text(line.get("value")),
            _text(line.get("threshold")),
            _text(line.get("detail")),
        )
    reasons = _table("reasons", "code", "detail")
    for reason in opt.get("reasons", []):
        reasons.add_row(reason["code"], _text(reason.get("detail")))
    return Group(summary, orders, decision, reasons)


def optimizations_table(items: list[Json]) -> Table:
    table = _table(None, "created", "id", "status", "recommended", "run type", "trigger")
    for opt in items:
        table.add_row(
            _when(opt.get("created_at")),
            opt["id"],
            _text(opt.get("status")),
            "yes" if opt.get("is_recommended") else "no",
            _text(opt.get("run_type")),
            _text(opt.get("trigger")),
        )
    return table
