"""The `rebal` command line: its commands and their arguments (cli.py builds and sends them)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from rebal_schemas import TOPICS


def parser(description: str, follow_default: Sequence[str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rebal", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--bootstrap",
        default=os.environ.get("REBAL_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env REBAL_KAFKA_BOOTSTRAP_SERVERS)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the event JSON instead of publishing it"
    )
    p.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after a request (portfolio, model, rebalance of one portfolio, decide, cancel), wait "
        "for its answer and print accepted or refused with the reason (default: on)",
    )
    p.add_argument(
        "--wait-seconds", type=float, default=10.0, help="how long --wait waits (default 10)"
    )
    sub = p.add_subparsers(dest="command", required=True)

    m = sub.add_parser("model", help="create or change a model portfolio (model.updated)")
    m.add_argument("model_id")
    m.add_argument("--name")
    m.add_argument("--description", default="")
    m.add_argument("--status", default="active", choices=["active", "inactive", "needs_adjustment"])
    m.add_argument(
        "--weight", nargs="+", required=True, metavar="SYMBOL=PCT", help="cash=5 SPY=60 TLT=35"
    )
    m.add_argument("--drift", nargs="+", metavar="absolute=P|relative=P")
    m.add_argument(
        "--calendar",
        metavar="SUBTYPE:DAY",
        help="weekly:Monday, monthly:15, quarterly:31, annually:03-31",
    )
    m.add_argument("--cooldown-days", type=int, default=0)

    s = sub.add_parser(
        "portfolio", help="create a portfolio or change its settings (portfolio.settings_changed)"
    )
    s.add_argument("portfolio_id")
    s.add_argument("--account-id")
    s.add_argument("--mandate", choices=["ADVISORY", "DISCRETIONARY"])
    s.add_argument("--broker-integration", choices=["PLATFORM", "CLIENT"])
    s.add_argument("--optimizer", choices=["PLATFORM", "EXTERNAL"])
    s.add_argument("--model", help="subscribe to this model")
    s.add_argument(
        "--weight", nargs="+", metavar="SYMBOL=PCT", help="own target weights instead of a model"
    )
    s.add_argument("--fractional", action=argparse.BooleanOptionalAction, default=None)
    s.add_argument("--active", action=argparse.BooleanOptionalAction, default=None)
    s.add_argument("--min-order-notional")
    s.add_argument("--cash-buffer", metavar="PCT")

    h = sub.add_parser("holdings", help="report holdings (snapshot, or --delta)")
    h.add_argument("portfolio_id")
    h.add_argument("holding", nargs="*", metavar="SYMBOL=QTY")
    h.add_argument("--cash")
    h.add_argument("--delta", action="store_true")

    d = sub.add_parser("deposit", help="a funding (portfolio.cash_deposited)")
    d.add_argument("portfolio_id")
    d.add_argument("amount")
    d.add_argument("--deposit-id", help="idempotency key of the deposit")

    w = sub.add_parser("withdraw", help="a withdrawal request (portfolio.withdrawal_requested)")
    w.add_argument("portfolio_id")
    w.add_argument("amount", nargs="?")
    w.add_argument("--full", action="store_true")

    c = sub.add_parser("decide", help="owner choice on an advisory optimization")
    c.add_argument("portfolio_id")
    c.add_argument("optimization_id")
    c.add_argument("choice", choices=["ACCEPT", "REJECT", "REOPTIMIZE"])

    r = sub.add_parser("rebalance", help="request a manual run (rebalance.requested)")
    target = r.add_mutually_exclusive_group(required=True)
    target.add_argument("--portfolio")
    target.add_argument("--model")
    target.add_argument("--all", action="store_true")
    r.add_argument("--run-type", choices=["full_rebalance", "invest_cash"])
    r.add_argument(
        "--weight", nargs="+", metavar="SYMBOL=PCT", help="own weights for a one-off manual run"
    )

    x = sub.add_parser("cancel", help="cancel a run (run.cancel_requested)")
    x.add_argument("portfolio_id")
    x.add_argument("run_id")
    x.add_argument("--reason", default="")

    q = sub.add_parser("price", help="publish a last price (market.prices)")
    q.add_argument("symbol")
    q.add_argument("price")
    q.add_argument("--not-tradable", action="store_true")
    q.add_argument("--not-fractionable", action="store_true")

    raw = sub.add_parser("publish", help="validate and publish raw JSON on a topic")
    raw.add_argument("topic", choices=sorted(TOPICS))
    raw.add_argument("file", help="a JSON file, or - for standard input")

    api = argparse.ArgumentParser(add_help=False)
    api.add_argument("--api", metavar="URL", help="the api (default REBAL_API_URL, else :8000)")
    api.add_argument(
        "--api-env",
        type=Path,
        metavar="FILE",
        help="REBAL_API_URL/_KEY/_SECRET lines, e.g. var/dev/api.env (key and secret otherwise "
        "from the environment)",
    )
    api.add_argument("--json", action="store_true", help="print the api's JSON instead")
    runs = sub.add_parser("runs", parents=[api], help="list runs from the api, newest first")
    runs.add_argument("--status", help="QUEUED, IN_PROGRESS, COMPLETED_SUCCESS, ...")
    runs.add_argument("--account", help="the Alpaca account id (a UUID)")
    runs.add_argument(
        "--type", dest="run_type", choices=["full_rebalance", "invest_cash", "partial_liquidation"]
    )
    runs.add_argument("--limit", type=int, default=50)
    show = sub.add_parser(
        "show", parents=[api], help="a portfolio from the api: holdings, cash, settings, block"
    )
    show.add_argument("portfolio_id")
    o = sub.add_parser(
        "optimization",
        parents=[api],
        help="a portfolio's latest optimization with its decision record (--list: all)",
    )
    o.add_argument("portfolio_id")
    o.add_argument("--list", action="store_true", help="list its optimizations, newest first")
    o.add_argument("--limit", type=int, default=20)

    # Its options are the optimizer's backtest's, forwarded as given (`rebal backtest --help`
    # prints them): no help of its own, so --help reaches the backtest too.
    sub.add_parser(
        "backtest",
        add_help=False,
        help="the policy backtest on the optimizer's rules: --days --seeds --prices --initial "
        "--deposit --out, --lots (rebal backtest --help)",
    )

    f = sub.add_parser("follow", help="follow topics as a table, or JSON lines with --json")
    f.add_argument("topics", nargs="*", default=list(follow_default))
    f.add_argument("--json", action="store_true")
    f.add_argument("--from-beginning", action="store_true")
    f.add_argument("--portfolio", help="only this portfolio")
    return p
