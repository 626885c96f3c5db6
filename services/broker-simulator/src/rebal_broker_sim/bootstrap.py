"""Wire the simulator: store, behaviour, services, notifiers and the deferred-fill loop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rebal_broker_sim.adapters.sqlite_store import SqliteStore
from rebal_broker_sim.domain.behaviour import BehaviourConfig
from rebal_broker_sim.service_layer.behaviour_state import RuntimeBehaviour
from rebal_broker_sim.service_layer.fills import FillScheduler
from rebal_broker_sim.service_layer.notifier import ChangeNotifier
from rebal_broker_sim.service_layer.orders_service import OrderService
from rebal_broker_sim.service_layer.ports import Clock
from rebal_broker_sim.service_layer.price_book import StoredPriceBook
from rebal_broker_sim.service_layer.queries import Queries
from rebal_broker_sim.service_layer.rate_limit import RequestRateLimit
from rebal_runtime.clock import SystemClock


@dataclass(frozen=True, slots=True)
class Credentials:
    """HTTP Basic key and secret, as Alpaca's Broker API uses."""

    key: str = "sim-key"
    secret: str = "sim-secret"


@dataclass
class Simulator:
    store: SqliteStore
    behaviour: RuntimeBehaviour
    credentials: Credentials
    clock: Clock
    orders: OrderService
    fills: FillScheduler
    price_book: StoredPriceBook
    queries: Queries
    trade_updates: ChangeNotifier
    fill_schedule: ChangeNotifier
    rate_limit: RequestRateLimit
    """The trading routes' request limit (429 + Retry-After over `rate_limit_per_minute`)."""
    admin_token: str | None = field(default=None, repr=False)
    """The bearer token of /admin/*; None: they are open (the embedded default, on loopback)."""
    _fill_task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        await self.store.open()
        self._fill_task = asyncio.create_task(self.fills.run(), name="broker-sim-fills")

    def begin_shutdown(self) -> None:
        """Make open event streams and the fill loop return, so the server can stop at once."""
        self.trade_updates.close()
        self.fill_schedule.close()

    async def stop(self) -> None:
        self.begin_shutdown()
        if self._fill_task is not None:
            await self.fills.stop(self._fill_task)
            self._fill_task = None
        await self.store.close()


def bootstrap(
    db_path: str | Path,
    behaviour: BehaviourConfig | None = None,
    credentials: Credentials | None = None,
    clock: Clock | None = None,
    new_order_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    admin_token: str | None = None,
) -> Simulator:
    clock = clock if clock is not None else SystemClock()
    store = SqliteStore(db_path)
    runtime_behaviour = RuntimeBehaviour(behaviour)
    trade_updates = ChangeNotifier()
    fill_schedule = ChangeNotifier()
    uow_factory = store.unit_of_work
    return Simulator(
        store=store,
        behaviour=runtime_behaviour,
        credentials=credentials or Credentials(),
        clock=clock,
        orders=OrderService(
            uow_factory, clock, runtime_behaviour, new_order_id, trade_updates, fill_schedule
        ),
        fills=FillScheduler(uow_factory, clock, fill_schedule, trade_updates),
        price_book=StoredPriceBook(uow_factory, clock, fill_schedule),
        queries=Queries(uow_factory),
        trade_updates=trade_updates,
        fill_schedule=fill_schedule,
        rate_limit=RequestRateLimit(clock),
        admin_token=admin_token or None,
    )
