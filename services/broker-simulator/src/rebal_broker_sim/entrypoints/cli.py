"""Command line: `python -m rebal_broker_sim --host 127.0.0.1 --port 0 --db sim.sqlite`."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from rebal_broker_sim.adapters.price_feed import MarketPriceFeed
from rebal_broker_sim.bootstrap import Credentials, Simulator, bootstrap
from rebal_broker_sim.domain.behaviour import BehaviourConfig, FillMode
from rebal_broker_sim.entrypoints.admin_auth import ADMIN_TOKEN_ENV
from rebal_broker_sim.entrypoints.http_app import create_app
from rebal_broker_sim.entrypoints.server import serve
from rebal_runtime import event_loop
from rebal_runtime.gc_tuning import tune_gc

log = logging.getLogger("rebal_broker_sim")
REQUIRE_AUTH_ENV = "REBAL_SIM_REQUIRE_AUTH"
PLACEHOLDER = "change-me"
"""deploy/.env.example's value of every secret: never one to run with."""


def build_parser() -> argparse.ArgumentParser:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m rebal_broker_sim",
        description="Alpaca Broker API compatible trading simulator",
    )
    parser.add_argument("--host", default=env("BROKER_SIM_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(env("BROKER_SIM_PORT", "0")), help="0 picks a free port"
    )
    parser.add_argument("--port-file", type=Path, help="write the bound port here when ready")
    parser.add_argument(
        "--db",
        default=env("BROKER_SIM_DB", "broker-sim.sqlite"),
        help="SQLite file (':memory:' keeps nothing)",
    )
    parser.add_argument("--key", default=env("BROKER_SIM_KEY", "sim-key"))
    parser.add_argument("--secret", default=env("BROKER_SIM_SECRET", "sim-secret"))
    parser.add_argument(
        "--admin-token",
        default=env(ADMIN_TOKEN_ENV) or None,
        help=f"bearer token of /admin/* (prefer env {ADMIN_TOKEN_ENV}: arguments are visible "
        "to every user of the machine); unset: /admin/* are open",
    )
    parser.add_argument(
        "--require-auth",
        action="store_true",
        default=env(REQUIRE_AUTH_ENV, "").lower() in ("1", "true", "yes"),
        help=f"refuse to start without an admin token or with the default or empty trading "
        f"key and secret (env {REQUIRE_AUTH_ENV}=true; what a deployment sets)",
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--fill-mode", choices=[m.value for m in FillMode], default="immediate")
    parser.add_argument("--partial-fill-ratio", type=Decimal, default=Decimal("0.5"))
    parser.add_argument("--fill-delay-ms", type=int, default=0)
    parser.add_argument(
        "--reject-symbol",
        action="append",
        default=[],
        dest="reject_symbols",
        metavar="SYMBOL",
        help="repeatable",
    )
    parser.add_argument(
        "--accept-unknown-symbols",
        action="store_true",
        help="accept orders for symbols without a price; they fill once priced",
    )
    parser.add_argument("--fail-next-n-requests", type=int, default=0)
    parser.add_argument("--drop-response-after-accept", action="store_true")
    parser.add_argument(
        "--rate-limit-per-minute",
        type=int,
        default=0,
        help="trading requests a minute before 429 + Retry-After, like Alpaca (0: no limit)",
    )
    parser.add_argument(
        "--cash",
        action="append",
        default=[],
        metavar="ACCOUNT=AMOUNT",
        help="cash limit of an account (repeatable); others are unlimited",
    )
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="SYMBOL=PRICE",
        help="seed a last price (repeatable)",
    )
    parser.add_argument(
        "--kafka-bootstrap",
        default=env("REBAL_KAFKA_BOOTSTRAP_SERVERS"),
        help="consume market.prices from this Kafka (env REBAL_KAFKA_BOOTSTRAP_SERVERS); off if unset",
    )
    parser.add_argument("--log-level", default="warning")
    return parser


def _pairs(values: Sequence[str], option: str) -> dict[str, Decimal]:
    pairs: dict[str, Decimal] = {}
    for value in values:
        name, separator, amount = value.partition("=")
        if not separator or not name:
            raise SystemExit(f"{option} expects NAME=DECIMAL, got {value!r}")
        pairs[name] = Decimal(amount)
    return pairs


def behaviour_from(args: argparse.Namespace) -> BehaviourConfig:
    return BehaviourConfig(
        latency_ms=args.latency_ms,
        fill_mode=FillMode(args.fill_mode),
        partial_fill_ratio=args.partial_fill_ratio,
        fill_delay_ms=args.fill_delay_ms,
        reject_symbols=frozenset(args.reject_symbols),
        reject_unknown_symbols=not args.accept_unknown_symbols,
        fail_next_n_requests=args.fail_next_n_requests,
        drop_response_after_accept=args.drop_response_after_accept,
        rate_limit_per_minute=args.rate_limit_per_minute,
    )


async def _seed(simulator: Simulator, prices: dict[str, Decimal], cash: dict[str, Decimal]) -> None:
    for symbol in sorted(prices):
        await simulator.price_book.set_price(symbol, prices[symbol])
    if cash:
        await simulator.orders.set_cash(dict(cash))


def check_auth_settings(args: argparse.Namespace) -> None:
    """Refuse what `--require-auth` forbids; otherwise warn once when /admin/* are open."""
    default = Credentials()
    if args.require_auth:
        problems = []
        placeholders = {default.key, default.secret, PLACEHOLDER}
        if not args.admin_token or args.admin_token == PLACEHOLDER:
            problems.append(f"no admin token ({ADMIN_TOKEN_ENV})")
        if not args.key or not args.secret:
            problems.append("an empty trading key or secret (BROKER_SIM_KEY, BROKER_SIM_SECRET)")
        elif args.key in placeholders or args.secret in placeholders:
            problems.append("the default trading key or secret")
        if problems:
            raise SystemExit(f"--require-auth: {'; '.join(problems)}")
    elif not args.admin_token:
        log.warning(
            "the /admin/* endpoints are open to anyone who reaches this port: set %s",
            ADMIN_TOKEN_ENV,
        )


def kafka_security() -> dict[str, Any]:
    """aiokafka's SASL / TLS options from the REBAL_KAFKA_* settings (none on PLAINTEXT); a SASL
    protocol without a user or password fails here, at start."""
    from rebal_runtime.kafka_security import aiokafka_security
    from rebal_runtime.settings import RuntimeSettings

    return aiokafka_security(RuntimeSettings())


async def run(args: argparse.Namespace) -> None:
    prices, cash = _pairs(args.price, "--price"), _pairs(args.cash, "--cash")
    simulator = bootstrap(
        args.db,
        behaviour_from(args),
        Credentials(key=args.key, secret=args.secret),
        admin_token=args.admin_token,
    )
    feed = (
        MarketPriceFeed(args.kafka_bootstrap, simulator.price_book, security=kafka_security())
        if args.kafka_bootstrap
        else None
    )

    async def on_started() -> None:
        await _seed(simulator, prices, cash)
        if feed is not None:
            feed.start()

    app = create_app(simulator, on_started=on_started)
    try:
        await serve(
            app,
            args.host,
            args.port,
            args.port_file,
            simulator.begin_shutdown,
            args.log_level.lower(),
        )
    finally:
        if feed is not None:
            await feed.stop()


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        behaviour_from(args)
    except ValueError as exc:
        raise SystemExit(f"invalid behaviour: {exc}") from exc
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    check_auth_settings(args)
    tune_gc()  # what start made stays; the hot loop's garbage is collected less often
    event_loop.run(run(args))
