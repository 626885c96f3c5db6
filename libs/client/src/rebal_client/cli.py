"""`rebal`: what clients do, from a terminal. Every command builds a validated event and publishes it.

rebal model balanced --name Balanced --weight cash=5 SPY=60 TLT=35 --drift absolute=5 relative=20 --cooldown-days 7
rebal portfolio pf-1 --mandate DISCRETIONARY --broker-integration PLATFORM --optimizer PLATFORM --model balanced
rebal deposit pf-1 10000.00
rebal follow run.completed --json

On a secured Kafka the CLI authenticates from the environment, as the services do:
REBAL_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT REBAL_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
REBAL_KAFKA_SASL_USERNAME=client REBAL_KAFKA_SASL_PASSWORD=... (a `client.env` file of the launcher;
the password is never an argument, which every user of the machine could read).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rebal_client import builders
from rebal_client.kafka import KafkaConnection, KafkaCredentialsMissing, Publisher, follow
from rebal_client.render import render_event
from rebal_schemas import (
    TOPICS,
    CashDeposited,
    Event,
    HoldingsReported,
    ModelUpdated,
    OptimizationDecided,
    PoisonMessage,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    WithdrawalRequested,
    decode,
)
from rebal_schemas.codec import describe

DEFAULT_FOLLOW = ("run.completed", "optimization.created", "optimization.ready", "dead.letter")


def _model(a: argparse.Namespace) -> Event:
    conditions = builders.drift_bands(a.drift or [])
    if a.calendar:
        conditions.append(builders.calendar(a.calendar))
    return ModelUpdated(
        model_id=a.model_id,
        name=a.name or a.model_id,
        description=a.description,
        status=a.status,
        weights=tuple(builders.weights(a.weight)),
        cooldown_days=a.cooldown_days,
        rebalance_conditions=tuple(conditions),
        producer="rebal-cli",
    )


def _portfolio(a: argparse.Namespace) -> Event:
    fields: dict[str, Any] = {
        k: v
        for k, v in {
            "account_id": a.account_id,
            "mandate": a.mandate,
            "broker_integration": a.broker_integration,
            "optimizer": a.optimizer,
            "model_id": a.model,
            "fractional_trading": a.fractional,
            "active": a.active,
            "min_order_notional": a.min_order_notional
            and builders.decimal(a.min_order_notional, "min order notional"),
            "cash_buffer_percent": a.cash_buffer and builders.decimal(a.cash_buffer, "cash buffer"),
            "target_weights": tuple(builders.weights(a.weight)) if a.weight else None,
        }.items()
        if v is not None
    }
    return PortfolioSettingsChanged(portfolio_id=a.portfolio_id, producer="rebal-cli", **fields)


def _holdings(a: argparse.Namespace) -> Event:
    return HoldingsReported(
        portfolio_id=a.portfolio_id,
        mode="delta" if a.delta else "snapshot",
        as_of=datetime.now(UTC),
        holdings=builders.holdings(a.holding),
        cash=builders.decimal(a.cash, "cash") if a.cash is not None else None,
        producer="rebal-cli",
    )


def _deposit(a: argparse.Namespace) -> Event:
    return CashDeposited(
        portfolio_id=a.portfolio_id,
        amount=builders.decimal(a.amount, "amount"),
        deposit_id=a.deposit_id,
        producer="rebal-cli",
    )


def _withdraw(a: argparse.Namespace) -> Event:
    amount = builders.decimal(a.amount, "amount") if a.amount else None
    return WithdrawalRequested(
        portfolio_id=a.portfolio_id, amount=amount, full=a.full, producer="rebal-cli"
    )


def _decide(a: argparse.Namespace) -> Event:
    return OptimizationDecided(
        portfolio_id=a.portfolio_id,
        optimization_id=a.optimization_id,
        owner_choice=a.choice,
        producer="rebal-cli",
    )


def _rebalance(a: argparse.Namespace) -> Event:
    scope = "portfolio" if a.portfolio else "model" if a.model else "all"
    return RebalanceRequested(
        scope=scope,
        portfolio_id=a.portfolio,
        model_id=a.model,
        reason="manual",
        initiated_from="api",
        run_type=a.run_type,
        weights=tuple(builders.weights(a.weight)) if a.weight else None,
        producer="rebal-cli",
    )


def _price(a: argparse.Namespace) -> Event:
    return PriceUpdated(
        symbol=a.symbol,
        price=builders.decimal(a.price, "price"),
        as_of=datetime.now(UTC),
        tradable=not a.not_tradable,
        fractionable=not a.not_fractionable,
        producer="rebal-cli",
    )


def _raw(a: argparse.Namespace) -> Event:
    data = sys.stdin.buffer.read() if a.file == "-" else Path(a.file).read_bytes()
    return decode(a.topic, data)


BUILDERS = {
    "model": _model,
    "portfolio": _portfolio,
    "holdings": _holdings,
    "deposit": _deposit,
    "withdraw": _withdraw,
    "decide": _decide,
    "rebalance": _rebalance,
    "price": _price,
    "publish": _raw,
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="rebal", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--bootstrap",
        default=os.environ.get("REBAL_KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env REBAL_KAFKA_BOOTSTRAP_SERVERS)",
    )
    p.add_argument(
        "--dry-run", action="store_true", help="print the event JSON instead of publishing it"
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

    q = sub.add_parser("price", help="publish a last price (market.prices)")
    q.add_argument("symbol")
    q.add_argument("price")
    q.add_argument("--not-tradable", action="store_true")
    q.add_argument("--not-fractionable", action="store_true")

    raw = sub.add_parser("publish", help="validate and publish raw JSON on a topic")
    raw.add_argument("topic", choices=sorted(TOPICS))
    raw.add_argument("file", help="a JSON file, or - for standard input")

    f = sub.add_parser("follow", help="follow topics as a table, or JSON lines with --json")
    f.add_argument("topics", nargs="*", default=list(DEFAULT_FOLLOW))
    f.add_argument("--json", action="store_true")
    f.add_argument("--from-beginning", action="store_true")
    f.add_argument("--portfolio", help="only this portfolio")
    return p


def _connection(a: argparse.Namespace) -> KafkaConnection:
    return KafkaConnection.from_env(bootstrap_servers=a.bootstrap)


async def _follow(a: argparse.Namespace) -> None:
    async for topic, event, raw, error in follow(_connection(a), a.topics, a.from_beginning):
        if a.portfolio and getattr(event, "portfolio_id", None) != a.portfolio:
            continue
        if a.json:
            print(raw.decode(errors="replace"), flush=True)
        else:
            print(render_event(topic, event, error), flush=True)


async def _publish(a: argparse.Namespace, event: Event) -> None:
    async with Publisher(_connection(a)) as publisher:
        await publisher.publish(event)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "follow":
            asyncio.run(_follow(args))
            return 0
        event = BUILDERS[args.command](args)
    except ValidationError as exc:
        print(f"rebal: invalid {args.command}: {describe(exc)}", file=sys.stderr)
        return 2
    except (PoisonMessage, builders.UsageError) as exc:
        print(f"rebal: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 2
    except KafkaCredentialsMissing as exc:
        print(f"rebal: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.dry_run:
        print(event.model_dump_json(indent=2))
        return 0
    try:
        asyncio.run(_publish(args, event))
    except KafkaCredentialsMissing as exc:
        print(f"rebal: {exc}", file=sys.stderr)
        return 2
    print(f"published {event.event_type} {event.event_id} to {event.TOPIC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
