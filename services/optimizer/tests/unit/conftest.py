"""Shared fixtures for the optimizer's pure domain tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from rebal_optimizer.domain import Price
from rebal_runtime.calendar import RuleCalendar, weekday_calendar

NOW = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)  # a Wednesday
TODAY = date(2026, 3, 4)
MAX_AGE = timedelta(minutes=15)


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def trading_days() -> RuleCalendar:
    return weekday_calendar()


@pytest.fixture
def quote():
    """quote('AAPL', '100') → a fresh tradable, fractionable Price."""

    def make(
        price: str,
        *,
        tradable: bool = True,
        fractionable: bool = True,
        age: timedelta = timedelta(0),
    ) -> Price:
        return Price(Decimal(price), tradable, fractionable, NOW - age)

    return make


# -- service-layer fixtures: handlers over the in-memory store, a fake clock, ALWAYS_OPEN days ---

from collections.abc import Callable  # noqa: E402
from typing import Any, Literal  # noqa: E402

from rebal_optimizer.adapters.fanout_publisher import ListFanoutSink  # noqa: E402
from rebal_optimizer.adapters.portfolio_document import PORTFOLIOS, record_from_document  # noqa: E402
from rebal_optimizer.bootstrap import build_handlers  # noqa: E402
from rebal_optimizer.service_layer.evaluation import OptimizerConfig  # noqa: E402
from rebal_runtime.calendar import always_open  # noqa: E402
from rebal_runtime.clock import FakeClock  # noqa: E402
from rebal_runtime.store import InMemoryStore  # noqa: E402
from rebal_schemas import (  # noqa: E402
    CashDeposited,
    Event,
    HoldingsReported,
    ModelUpdated,
    OptimizationCreated,
    OptimizationDecided,
    PortfolioSettingsChanged,
    PriceUpdated,
    RebalanceCondition,
    RebalanceRequested,
    Weight,
    decode,
)


def weights(**percents: str) -> tuple[Weight, ...]:
    """weights(SPY="60", cash="5")"""
    return tuple(
        Weight(type="cash", percent=Decimal(p))
        if s == "cash"
        else Weight(type="asset", symbol=s, percent=Decimal(p))
        for s, p in percents.items()
    )


def held(events: list[Event]) -> list[str]:
    """The rule (first reason) of each NOT_RECOMMENDED decision record among `events`."""
    return [
        e.reasons[0].code
        for e in events
        if isinstance(e, OptimizationCreated) and e.status == "NOT_RECOMMENDED"
    ]


class Env:
    """The optimizer's handlers with everything they touch in reach of a test."""

    def __init__(
        self,
        *,
        max_price_age: timedelta = timedelta(hours=1),
        advisory_expiry: timedelta = timedelta(days=2),
        fanout_batch: int = 2,
        unblock_on: Literal["settlement", "execution"] = "settlement",
        client_holdings_wait: timedelta | None = timedelta(days=1),
    ) -> None:
        self.store = InMemoryStore()
        self.clock = FakeClock(NOW)
        self.sink = ListFanoutSink()
        self.config = OptimizerConfig(
            "optimizer",
            max_price_age,
            advisory_expiry,
            fanout_batch,
            unblock_on=unblock_on,
            client_holdings_wait=client_holdings_wait,
        )
        self.handlers = build_handlers(
            self.store, self.clock, always_open(), self.config, self.sink
        )
        self._read = 0

    def published(self) -> list[Event]:
        return [decode(m.topic, m.value) for m in self.store.outbox_messages()]

    def new(self) -> list[Event]:
        """Events published since the previous call."""
        events = self.published()
        fresh, self._read = events[self._read :], len(events)
        return fresh

    async def record(self, portfolio_id: str) -> Any:
        doc = await self.store.load(PORTFOLIOS, portfolio_id)
        return record_from_document(doc.state) if doc else None

    async def price(
        self,
        symbol: str,
        price: str,
        *,
        tradable: bool = True,
        fractionable: bool = True,
        as_of: datetime | None = None,
    ) -> None:
        await self.handlers.price_updated(
            PriceUpdated(
                symbol=symbol,
                price=Decimal(price),
                as_of=as_of or self.clock.now(),
                tradable=tradable,
                fractionable=fractionable,
            )
        )

    async def model(
        self,
        model_id: str,
        w: tuple[Weight, ...] | None = None,
        conditions: tuple[RebalanceCondition, ...] = (),
        **kw: Any,
    ) -> ModelUpdated:
        event = ModelUpdated(
            model_id=model_id,
            name=model_id,
            weights=w or weights(SPY="60", TLT="35", cash="5"),
            rebalance_conditions=conditions,
            **kw,
        )
        await self.handlers.model_updated(event)
        return event

    async def settings(self, portfolio_id: str, **kw: Any) -> PortfolioSettingsChanged:
        event = PortfolioSettingsChanged(portfolio_id=portfolio_id, **kw)
        await self.handlers.portfolio_patched(event)
        return event

    async def holdings(
        self, portfolio_id: str, cash: str, as_of: datetime | None = None, **holdings: str
    ) -> HoldingsReported:
        event = HoldingsReported(
            portfolio_id=portfolio_id,
            cash=Decimal(cash),
            as_of=as_of or self.clock.now(),
            holdings={s: Decimal(q) for s, q in holdings.items()},
        )
        await self.handlers.portfolio_patched(event)
        return event

    async def deposit(self, portfolio_id: str, amount: str, **kw: Any) -> CashDeposited:
        event = CashDeposited(portfolio_id=portfolio_id, amount=Decimal(amount), **kw)
        await self.handlers.portfolio_patched(event)
        return event

    async def decide(
        self, portfolio_id: str, optimization_id: str, choice: str
    ) -> OptimizationDecided:
        event = OptimizationDecided(
            portfolio_id=portfolio_id, optimization_id=optimization_id, owner_choice=choice
        )  # type: ignore[arg-type]
        await self.handlers.optimization_decided(event)
        return event

    async def request(self, **kw: Any) -> RebalanceRequested:
        event = RebalanceRequested(**kw)
        await self.handlers.rebalance_requested(event)
        return event

    async def funded(self, portfolio_id: str, model_id: str = "m1", **settings: Any) -> None:
        """Prices, a model and a portfolio funded with 10,000 cash (first funding evaluated)."""
        await self.price("SPY", "100")
        await self.price("TLT", "50")
        if await self.store.load("models", model_id) is None:
            await self.model(model_id)
        await self.settings(portfolio_id, model_id=model_id, **settings)
        await self.holdings(portfolio_id, "10000")


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def make_env() -> Callable[..., Env]:
    return Env
