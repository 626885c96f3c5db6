"""Wire the optimizer: settings -> runtime (store, broker, outbox) -> handlers -> router -> expiry
loop. Nothing connects until `runtime.start()`."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_optimizer.adapters.account_claims import StoreAccountClaims
from rebal_optimizer.adapters.fanout_publisher import BrokerFanoutSink
from rebal_optimizer.adapters.portfolio_document import (
    PortfolioDocumentMapping,
    StorePortfolioQueries,
)
from rebal_optimizer.adapters.reference_data import StoreReferenceData
from rebal_optimizer.domain.trading_days import TradingCalendar
from rebal_optimizer.entrypoints.expiry_loop import ExpiryLoop
from rebal_optimizer.entrypoints.kafka import build_router
from rebal_optimizer.entrypoints.stale_blocks import StaleBlockAlarm
from rebal_optimizer.service_layer.evaluation import OptimizerConfig
from rebal_optimizer.service_layer.fanout import FanoutSink
from rebal_optimizer.service_layer.handlers import OptimizerHandlers
from rebal_optimizer.service_layer.ports import StorePorts
from rebal_optimizer.service_layer.redelivery import ReadyRedelivery
from rebal_optimizer.settings import OptimizerSettings
from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore


@dataclass(frozen=True)
class Optimizer:
    settings: OptimizerSettings
    runtime: ServiceRuntime
    handlers: OptimizerHandlers
    expiry_loop: ExpiryLoop
    clock: Clock
    stale_blocks: StaleBlockAlarm
    redelivery: ReadyRedelivery


def config_of(settings: OptimizerSettings) -> OptimizerConfig:
    return OptimizerConfig(
        producer=settings.service_name,
        max_price_age=settings.max_price_age,
        advisory_expiry=settings.advisory_expiry,
        fanout_batch=settings.fanout_batch,
        history_enabled=settings.history_enabled,
        unblock_on=settings.unblock_on,
        client_holdings_wait=settings.client_holdings_wait,
        model_wait=settings.model_wait,
    )


def store_ports(store: DocumentStore) -> StorePorts:
    """The service layer's storage ports, implemented by the adapters over one store."""
    return StorePorts(
        PortfolioDocumentMapping(),
        StorePortfolioQueries(store),
        StoreReferenceData(store),
        StoreAccountClaims(store),
    )


def build_handlers(
    store: DocumentStore,
    clock: Clock,
    calendar: TradingCalendar,
    config: OptimizerConfig,
    fanout: FanoutSink,
) -> OptimizerHandlers:
    return OptimizerHandlers(store, clock, calendar, config, fanout, store_ports(store))


def bootstrap(
    settings: OptimizerSettings | None = None,
    *,
    clock: Clock | None = None,
    calendar: TradingCalendar | None = None,
    store: DocumentStore | None = None,
) -> Optimizer:
    """Build one optimizer process. Tests pass a fake `clock` (and may pass a `calendar`)."""
    settings = settings if settings is not None else OptimizerSettings()
    clock = clock if clock is not None else SystemClock()
    runtime = ServiceRuntime(settings, store=store)
    calendar = calendar if calendar is not None else runtime.trading_calendar()
    handlers = build_handlers(
        runtime.store, clock, calendar, config_of(settings), BrokerFanoutSink(runtime.broker)
    )
    runtime.include_router(build_router(settings, handlers))
    expiry_loop = ExpiryLoop(handlers.expire_due, clock, settings.expiry_sweep_seconds)
    # on_start runs after the store and the outbox relay are up; on_stop before they go down,
    # so the relay's final drain publishes what the last sweep committed.
    runtime.on_start(expiry_loop.start)
    runtime.on_stop(expiry_loop.stop)
    stale_blocks = StaleBlockAlarm(
        handlers.queries,
        handlers.portfolios.load,
        clock,
        settings.stale_block,
        settings.stale_block_check_seconds,
    )
    runtime.on_start(stale_blocks.start)
    runtime.on_stop(stale_blocks.stop)
    redelivery = ReadyRedelivery(handlers.queries, handlers.portfolios)

    async def broker_lost_records(reason: str) -> None:
        # A lost optimization.ready nobody read would keep its portfolio blocked for good.
        await redelivery.republish_blocked(reason)

    runtime.on_broker_data_lost(broker_lost_records)
    return Optimizer(settings, runtime, handlers, expiry_loop, clock, stale_blocks, redelivery)
