"""Wire the order-router: settings -> runtime (store, Kafka, outbox) -> broker client ->
handlers -> Kafka router -> background loops (dispatcher, trade-update stream, reconciliation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rebal_order_router.adapters.alpaca_client import AlpacaBrokerClient
from rebal_order_router.adapters.run_store import RunStore
from rebal_order_router.domain import BrokerPort
from rebal_order_router.entrypoints.kafka import build_router
from rebal_order_router.service_layer.context import RouterContext, instance_id, utc_now
from rebal_order_router.service_layer.dispatch import Dispatcher
from rebal_order_router.service_layer.reconcile import reconcile_all
from rebal_order_router.service_layer.rereport import rereport_recent
from rebal_order_router.service_layer.trade_updates import TradeUpdateFollower
from rebal_order_router.settings import RouterSettings
from rebal_runtime.periodic import PeriodicTask
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore


@dataclass(frozen=True)
class OrderRouter:
    settings: RouterSettings
    runtime: ServiceRuntime
    ctx: RouterContext
    dispatcher: Dispatcher
    follower: TradeUpdateFollower | None
    reconciler: PeriodicTask


def alpaca_client(settings: RouterSettings) -> AlpacaBrokerClient:
    return AlpacaBrokerClient(
        settings.broker_base_url,
        settings.broker_key.get_secret_value(),
        settings.broker_secret.get_secret_value(),
        timeout=settings.broker_timeout_seconds,
        stream_idle_timeout=settings.broker_stream_idle_seconds,
    )


def bootstrap(
    settings: RouterSettings | None = None,
    *,
    store: DocumentStore | None = None,
    broker: BrokerPort | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> OrderRouter:
    """Build an order-router process; nothing connects until ``runtime.start()``.

    Tests may pass a fake ``broker``; otherwise an Alpaca Broker API client is built from the
    settings and closed when the runtime stops.
    """
    settings = settings if settings is not None else RouterSettings()
    runtime = ServiceRuntime(settings, store=store)
    if broker is None:
        client = alpaca_client(settings)
        runtime.on_stop(client.aclose)  # registered first: runs after every loop has stopped
        broker = client
    ctx = RouterContext(
        runs=RunStore(runtime.store),
        broker=broker,
        producer=settings.service_name,
        clock=clock,
        market_tz=settings.market_tz,
        retry_policy=settings.retry_policy(),
        owner=f"{settings.service_name}-{instance_id()}",
        run_lease_seconds=settings.run_lease_seconds,
    )
    dispatcher = Dispatcher(
        ctx,
        poll_seconds=settings.dispatch_poll_seconds,
        concurrency=settings.dispatch_concurrency,
        backoff_max_seconds=settings.dispatch_backoff_max_seconds,
        stop_timeout_seconds=min(10.0, settings.graceful_timeout_seconds),
    )
    ctx.wake_dispatcher = dispatcher.wake
    runtime.include_router(build_router(settings, ctx))

    async def reconcile_round() -> int:
        return await reconcile_all(ctx)

    reconciler = PeriodicTask("order-router-reconcile", reconcile_round, settings.reconcile_seconds)

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
    return OrderRouter(settings, runtime, ctx, dispatcher, follower, reconciler)
