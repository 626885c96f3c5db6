"""Wire the order-router: settings -> runtime (store, Kafka, outbox) -> broker client ->
handlers -> Kafka router -> background loops (dispatcher, queue drain, trade-update stream,
reconciliation).
"""

from __future__ import annotations

from dataclasses import dataclass

from rebal_order_router.adapters.alpaca_client import AlpacaBrokerClient
from rebal_order_router.adapters.broker_limits import LimitedBroker, broker_bucket
from rebal_order_router.adapters.clock import ShiftedClock
from rebal_order_router.adapters.price_store import PriceStore
from rebal_order_router.adapters.run_store import RunStore
from rebal_order_router.domain import BrokerPort, ExecutionWindow
from rebal_order_router.entrypoints.kafka import build_router
from rebal_order_router.service_layer.context import RouterContext, instance_id
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.queue import QueueDrain
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.rereport import rereport_recent
from rebal_order_router.service_layer.trade_updates import TradeUpdateFollower
from rebal_order_router.settings import RouterSettings
from rebal_runtime.calendar import ALWAYS_OPEN
from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.periodic import PeriodicTask
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore

RUNS_PER_BROKER_SLOT = 4
"""Runs the dispatcher works on at once per broker request in flight: besides its sends a run
loads, commits and takes its lease, so a few per slot keep every slot busy; more only wait."""


@dataclass(frozen=True)
class OrderRouter:
    settings: RouterSettings
    runtime: ServiceRuntime
    ctx: RouterContext
    dispatcher: Dispatcher
    follower: TradeUpdateFollower | None
    reconciler: PeriodicTask
    queue: QueueDrain
    broker: LimitedBroker
    """The broker port every loop calls through (its counters: requests, 429s, peak in flight)."""


def alpaca_client(settings: RouterSettings, clock: Clock | None = None) -> AlpacaBrokerClient:
    return AlpacaBrokerClient(
        settings.broker_base_url,
        settings.broker_key.get_secret_value(),
        settings.broker_secret.get_secret_value(),
        timeout=settings.broker_timeout_seconds,
        stream_idle_timeout=settings.broker_stream_idle_seconds,
        # the requests the limiter lets out at once, and the trade-update stream's connection
        max_connections=settings.broker_max_in_flight + 1,
        clock=clock,
    )


def bootstrap(
    settings: RouterSettings | None = None,
    *,
    store: DocumentStore | None = None,
    broker: BrokerPort | None = None,
    clock: Clock | None = None,
) -> OrderRouter:
    """Build an order-router process; nothing connects until ``runtime.start()``.

    Tests may pass a fake ``broker``; otherwise an Alpaca Broker API client is built from the
    settings and closed when the runtime stops. Either is wrapped in the broker's limits
    (`LimitedBroker`: requests per minute, requests in flight, 429 holds). Everything reads
    and sleeps on one ``clock`` (the system clock unless given): the handlers, the broker
    client, its limits and the background loops.
    """
    settings = settings if settings is not None else RouterSettings()
    if clock is None:
        start = settings.clock_start_at
        clock = ShiftedClock(start) if start is not None else SystemClock()
    runtime = ServiceRuntime(settings, store=store)
    if broker is None:
        client = alpaca_client(settings, clock)
        runtime.on_stop(client.aclose)  # registered first: runs after every loop has stopped
        broker = client
    # Wrapped once, here: every broker call of every loop shares the rate and the in-flight cap.
    limited = LimitedBroker(
        broker,
        broker_bucket(settings.broker_requests_per_minute),
        clock,
        max_in_flight=settings.broker_max_in_flight,
        max_hold_seconds=settings.retry_max_retry_after_seconds,
    )
    ctx = RouterContext(
        runs=RunStore(runtime.store),
        broker=limited,
        producer=settings.service_name,
        clock=clock,
        market_tz=settings.market_tz,
        retry_policy=settings.retry_policy(),
        owner=f"{settings.service_name}-{instance_id()}",
        run_lease_seconds=settings.run_lease_seconds,
        window=execution_window(settings, runtime),
        prices=PriceStore(runtime.store),
        price_tolerance=settings.replan_price_tolerance,
        pending_cancel_seconds=settings.pending_cancel_seconds,
    )
    dispatcher = Dispatcher(
        ctx,
        poll_seconds=settings.dispatch_poll_seconds,
        backoff_max_seconds=settings.dispatch_backoff_max_seconds,
        stop_timeout_seconds=min(10.0, settings.graceful_timeout_seconds),
        max_runs=RUNS_PER_BROKER_SLOT * settings.broker_max_in_flight,
    )
    ctx.wake_dispatcher = dispatcher.wake
    runtime.include_router(build_router(settings, ctx))

    async def reconcile_round() -> int:
        return await reconcile_all(ctx)

    reconciler = PeriodicTask(
        "order-router-reconcile", reconcile_round, settings.reconcile_seconds, ctx.clock
    )

    async def broker_lost_records(reason: str) -> None:
        # What the broker lost may be fills nobody read: publish them again, then ask the
        # broker simulator about every order still open right away (not in reconcile_seconds).
        await rereport_recent(ctx, reason)
        await reconcile_all(ctx)

    runtime.on_broker_data_lost(broker_lost_records)
    follower = (
        TradeUpdateFollower(ctx, settings.stream_reconnect_seconds)
        if settings.stream_enabled
        else None
    )
    # on_start runs after the store and the outbox relay are up and before the consumers;
    # on_stop runs in reverse order, before the relay's final drain and the store's close.
    runtime.on_start(dispatcher.start)
    runtime.on_stop(dispatcher.stop)
    if follower is not None:
        runtime.on_start(follower.start)
        runtime.on_stop(follower.stop)
    runtime.on_start(reconciler.start)
    runtime.on_stop(reconciler.stop)
    queue = QueueDrain(
        ctx,
        rate=settings.execution_start_rate,
        poll_seconds=settings.execution_queue_poll_seconds,
    )
    runtime.on_start(queue.start)
    runtime.on_stop(queue.stop)
    return OrderRouter(settings, runtime, ctx, dispatcher, follower, reconciler, queue, limited)


def execution_window(settings: RouterSettings, runtime: ServiceRuntime) -> ExecutionWindow:
    """The window on the runtime's calendar; always open on ALWAYS_OPEN (demos and tests)."""
    if settings.trading_calendar.upper() == ALWAYS_OPEN:
        return ExecutionWindow()
    return ExecutionWindow(
        runtime.trading_calendar(),
        opens=settings.execution_window_open,
        closes=settings.execution_window_close,
    )
