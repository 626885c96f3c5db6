"""`rebal`: what clients do, from a terminal. Every command builds a validated event and publishes it.

rebal model balanced --name Balanced --weight cash=5 SPY=60 TLT=35 --drift absolute=5 relative=20 --cooldown-days 7
rebal portfolio pf-1 --mandate DISCRETIONARY --broker-integration PLATFORM --optimizer PLATFORM --model balanced
rebal deposit pf-1 10000.00
rebal cancel pf-1 RUN_ID     # waits for the answer: accepted, or refused with the reason
rebal follow run.completed --json
rebal runs --status COMPLETED_SUCCESS --api-env var/dev/api.env   # reads, from the api
rebal show pf-1; rebal optimization pf-1
rebal backtest --days 60 --seeds 7   # the policy backtest (the optimizer's, in a child process)

On a secured Kafka the CLI authenticates from the environment, as the services do:
REBAL_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT REBAL_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
REBAL_KAFKA_SASL_USERNAME=client REBAL_KAFKA_SASL_PASSWORD=... (a `client.env` file of the launcher;
the password is never an argument, which every user of the machine could read).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from rebal_client import builders
from rebal_client.answers import Answer, publish_and_wait
from rebal_client.api_reads import READS, read
from rebal_client.backtest import run_backtest
from rebal_client.cli_args import parser
from rebal_client.kafka import KafkaConnection, KafkaCredentialsMissing, Publisher, follow
from rebal_client.render import render_event
from rebal_schemas import (
    CashDeposited,
    Event,
    HoldingsReported,
    ModelUpdated,
    OptimizationDecided,
    PoisonMessage,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    RunCancelRequested,
    WithdrawalRequested,
    decode,
)
from rebal_schemas.codec import describe

DEFAULT_FOLLOW = (
    "run.status_changed",
    "run.completed",
    "run.settled",
    "optimization.created",
    "optimization.ready",
    "request.rejected",
    "model.status_changed",
    "dead.letter",
)


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


def _cancel(a: argparse.Namespace) -> Event:
    return RunCancelRequested(
        run_id=a.run_id, portfolio_id=a.portfolio_id, reason=a.reason, producer="rebal-cli"
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
    "cancel": _cancel,
    "price": _price,
    "publish": _raw,
}


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


# The topics on which the platform answers each request (docs/design.md §2).
ANSWERS: dict[str, tuple[str, ...]] = {
    "portfolio": ("request.rejected", "optimization.created"),
    "model": ("request.rejected", "model.status_changed"),
    "rebalance": ("request.rejected", "optimization.created"),
    "decide": ("request.rejected", "optimization.created", "optimization.ready"),
    "cancel": ("request.rejected", "run.status_changed"),
}


def _answer_topics(a: argparse.Namespace, event: Event) -> tuple[str, ...]:
    if not a.wait or (isinstance(event, RebalanceRequested) and event.scope != "portfolio"):
        return ()
    return ANSWERS.get(a.command, ())


async def _publish(a: argparse.Namespace, event: Event) -> Answer | None:
    async with Publisher(_connection(a)) as publisher:
        topics = _answer_topics(a, event)
        if not topics:
            await publisher.publish(event)
            return None
        return await publish_and_wait(
            _connection(a), event, topics, publisher.publish, a.wait_seconds
        )


def main(argv: list[str] | None = None, transport: httpx.BaseTransport | None = None) -> int:
    """`transport`: how the reads reach the api (tests give a fake one)."""
    cli = parser(__doc__ or "", DEFAULT_FOLLOW)
    args, forwarded = cli.parse_known_args(argv)
    if args.command == "backtest":
        return run_backtest(forwarded)
    if forwarded:
        cli.error(f"unrecognized arguments: {' '.join(forwarded)}")
    if args.command in READS:
        return read(args, transport)
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
        answer = asyncio.run(_publish(args, event))
    except KafkaCredentialsMissing as exc:
        print(f"rebal: {exc}", file=sys.stderr)
        return 2
    print(f"published {event.event_type} {event.event_id} to {event.TOPIC}", file=sys.stderr)
    if answer is None:
        return 0
    print(answer.describe(args.wait_seconds))
    return 1 if answer.refused else 0


if __name__ == "__main__":
    sys.exit(main())
