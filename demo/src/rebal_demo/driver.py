"""Drives one demo day against a running stack: publishes what clients publish, follows what rebal
publishes, and waits, phase by phase, until every ready optimization has its run.completed."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiokafka import AIOKafkaConsumer

from rebal_client.kafka import KafkaConnection, wait_until_consumed
from rebal_demo.book import Account, balanced_account, breaches_band
from rebal_demo.client_side import ClientSide
from rebal_demo.kafka_roles import DemoKafka, RolePublisher
from rebal_demo.scenario import INITIAL_PRICES, MODELS, MODELS_BY_ID, MOVED_PRICES, PortfolioPlan
from rebal_schemas import (
    CashDeposited,
    Event,
    OptimizerMode,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceRequested,
    WithdrawalRequested,
    decode,
)

# The consumer group of the optimizer service (its service name): the demo waits until it has
# read the reference data before opening accounts.
OPTIMIZER_GROUP = "optimizer"
# A client reads rebal's public outputs; dead.letter is the operator's (README, "Security").
CLIENT_FOLLOWED = (
    "optimization.created",
    "optimization.ready",
    "run.status_changed",
    "run.completed",
    "run.settled",
)
# run.execution (the order-router's queue and starts) is rebal's own, read as the operator.
OPERATOR_FOLLOWED = ("dead.letter", "run.execution")
FOLLOWED = CLIENT_FOLLOWED + OPERATOR_FOLLOWED
Progress = Callable[[str, int, int], None]


@dataclass
class DemoOptions:
    price_ticks: int = 8
    quiet_seconds: float = 3.0
    phase_timeout: float = 600.0


class Driver:
    """`kafka`: bootstrap servers (PLAINTEXT, every party the same connection) or a `DemoKafka`
    (each party its own principal on a secured broker)."""

    def __init__(
        self,
        kafka: str | DemoKafka,
        plans: list[PortfolioPlan],
        options: DemoOptions,
        progress: Progress,
    ) -> None:
        self.kafka = DemoKafka.of(kafka)
        self.bootstrap = self.kafka.bootstrap_servers
        self.plans = {p.portfolio_id: p for p in plans}
        self.options = options
        self.progress = progress
        self.client = ClientSide(self.plans, {}, dict(INITIAL_PRICES))
        self.publisher = RolePublisher(self.kafka)
        self._last_event_at = time.monotonic()
        self._followers: list[asyncio.Task[None]] = []
        self.phase_seconds: dict[str, float] = {}

    # -- plumbing ------------------------------------------------------------------------------------
    async def __aenter__(self) -> Driver:
        await self.publisher.__aenter__()
        self._followers = [
            asyncio.create_task(self._follow(self.kafka.roles["client"], CLIENT_FOLLOWED)),
            asyncio.create_task(self._follow(self.kafka.operator, OPERATOR_FOLLOWED)),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for follower in self._followers:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
        await self.publisher.__aexit__(*exc)

    async def _follow(self, connection: KafkaConnection, topics: tuple[str, ...]) -> None:
        consumer: Any = AIOKafkaConsumer(
            *topics,
            **connection.options(),
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=200, max_records=2000)
                for records in batches.values():
                    for record in records:
                        self.client.on_event(decode(record.topic, record.value))
                        self._last_event_at = time.monotonic()
                await self._flush()
        finally:
            await consumer.stop()

    async def _flush(self) -> None:
        if self.client.outbox:
            events, self.client.outbox = self.client.outbox, []
            await self.publisher.publish_many(events)

    async def publish(self, events: Iterable[Event]) -> None:
        await self.publisher.publish_many(events)

    async def publish_consumed(self, events: Iterable[Event]) -> None:
        """Publish, then wait until the optimizer has read (and committed) all of it: what comes
        next depends on it and travels on another topic, with no order between the two."""
        ends = await self.publisher.publish_tracked(events)
        await wait_until_consumed(
            self.kafka.operator, OPTIMIZER_GROUP, ends, self.options.phase_timeout
        )

    async def wait_until_settled(
        self, phase: str, responders: Iterable[str] = (), since: float = 0.0
    ) -> None:
        """Until each of `responders` published an optimization after `since`, every ready
        optimization completed and settled (the optimizer unblocks a portfolio when its run
        settles), and nothing new arrived for `quiet_seconds`."""
        started = time.monotonic()
        waiting = set(responders)
        while waiting and time.monotonic() - started < self.options.phase_timeout:
            waiting = {p for p in waiting if self.client.last_created.get(p, 0.0) < since}
            self.progress(phase, len(self.client.completed), len(self.client.readies))
            await asyncio.sleep(0.25)
        while True:
            done, total = len(self.client.completed), len(self.client.readies)
            self.progress(phase, done, total)
            done = min(done, len(self.client.settled))
            quiet = time.monotonic() - self._last_event_at > self.options.quiet_seconds
            settled = done >= total and not self.client.outbox
            if settled and quiet and not self.client.unanswered_decisions():
                break
            if time.monotonic() - started > self.options.phase_timeout:
                break
            await asyncio.sleep(0.25)
        self.phase_seconds[phase] = time.monotonic() - started

    # -- the day ------------------------------------------------------------------------------------
    async def setup(self) -> None:
        now = datetime.now(UTC)
        reference = await self.publisher.publish_tracked(
            [
                *(
                    PriceUpdated(symbol=s, price=p, as_of=now, producer="demo-feed")
                    for s, p in INITIAL_PRICES.items()
                ),
                *MODELS,
            ]
        )
        # The price feed and the model catalogue run before accounts open, as in production:
        # a portfolio evaluated before its prices arrive is answered PRICE_MISSING, and its first
        # priced evaluation (the deposit) would be a first-funding full rebalance, not invest_cash.
        await wait_until_consumed(
            self.kafka.operator, OPTIMIZER_GROUP, reference, self.options.phase_timeout
        )
        await self.publish(
            PortfolioSettingsChanged(
                portfolio_id=p.portfolio_id,
                account_id=f"acct-{p.portfolio_id}",
                mandate=p.mandate,
                broker_integration=p.broker,
                optimizer=p.optimizer,
                model_id=p.model_id,
                fractional_trading=p.fractional,
                active=True,
                producer="demo",
            )
            for p in self.plans.values()
        )
        invested = [p for p in self.plans.values() if p.cohort != "new"]
        for p in self.plans.values():
            self.client.books[p.portfolio_id] = (
                balanced_account(MODELS_BY_ID[p.model_id], p.start_value, INITIAL_PRICES)
                if p.cohort != "new"
                else Account()
            )
        await self.publish(self.client.snapshot(p.portfolio_id) for p in invested)
        await self.wait_until_settled("accounts opened")

    async def funding(self) -> None:
        funded = [p for p in self.plans.values() if p.cohort in ("new", "investor")]
        now = time.monotonic()
        for p in funded:
            self.client.books[p.portfolio_id].cash += p.deposit
            self.client.timeline.triggered[p.portfolio_id] = now
        await self.publish_consumed(  # external optimizations are checked against the cash
            CashDeposited(
                portfolio_id=p.portfolio_id,
                amount=p.deposit,
                deposit_id=f"dep-{p.portfolio_id}",
                producer="demo",
            )
            for p in funded
        )
        await self._external_optimizations(funded)
        await self.wait_until_settled("funding", [p.portfolio_id for p in funded], since=now)

    async def market_move(self) -> None:
        ticks = self.options.price_ticks
        landed: dict[str, dict[int, int]] = {}
        for tick in range(1, ticks + 1):
            prices = {
                s: (
                    INITIAL_PRICES[s] + (MOVED_PRICES[s] - INITIAL_PRICES[s]) * tick / ticks
                ).quantize(Decimal("0.01"))
                for s in INITIAL_PRICES
            }
            self.client.prices.update(prices)
            now = datetime.now(UTC)
            ends = await self.publisher.publish_tracked(
                PriceUpdated(symbol=s, price=p, as_of=now, producer="demo-feed")
                for s, p in prices.items()
            )
            for topic, parts in ends.items():
                seen = landed.setdefault(topic, {})
                for part, end in parts.items():
                    seen[part] = max(seen.get(part, 0), end)
            await asyncio.sleep(0.2)  # a feed ticks over time
        # The sweep must find the moved prices: they travel on another topic.
        await wait_until_consumed(
            self.kafka.operator, OPTIMIZER_GROUP, landed, self.options.phase_timeout
        )
        drifters = [p for p in self.plans.values() if p.cohort == "drifter"]
        for p in self.plans.values():
            self.client.drift_before[p.portfolio_id] = self.client.books[p.portfolio_id].max_drift(
                MODELS_BY_ID[p.model_id], self.client.prices
            )
        now_m = time.monotonic()
        breached = [
            p
            for p in drifters
            if breaches_band(
                self.client.books[p.portfolio_id], MODELS_BY_ID[p.model_id], self.client.prices
            )
        ]
        for p in breached:
            self.client.timeline.triggered[p.portfolio_id] = now_m
        # What the scheduler's drift sweep publishes inside the trading window.
        await self.publish(
            [
                RebalanceRequested(
                    scope="all",
                    reason="drift_sweep",
                    slot_id="demo:drift_sweep:1",
                    producer="demo-scheduler",
                )
            ]
        )
        await self._external_optimizations(breached)
        await self.wait_until_settled(
            "market move", [p.portfolio_id for p in breached], since=now_m
        )

    async def withdrawals(self) -> None:
        leaving = [p for p in self.plans.values() if p.withdraw is not None]
        now = time.monotonic()
        for p in leaving:
            self.client.timeline.triggered[p.portfolio_id] = now
        await self.publish_consumed(  # the external sells are checked against the request
            WithdrawalRequested(portfolio_id=p.portfolio_id, amount=p.withdraw, producer="demo")
            for p in leaving
        )
        externals = [p for p in leaving if p.optimizer == OptimizerMode.EXTERNAL]
        await self.publish(
            e
            for p in externals
            if (e := self.client.external_optimization(p, raise_cash=p.withdraw or Decimal(0)))
        )
        await self.wait_until_settled("withdrawals", [p.portfolio_id for p in leaving], since=now)
        await self.publish(
            paid
            for p in leaving
            if p.withdraw is not None and (paid := self.client.cash_withdrawn(p, p.withdraw))
        )
        await self.wait_until_settled("cash paid out")

    async def _external_optimizations(self, plans: list[PortfolioPlan]) -> None:
        externals = [p for p in plans if p.optimizer == OptimizerMode.EXTERNAL]
        if not externals:
            return
        await self.publish(e for p in externals if (e := self.client.external_optimization(p)))
