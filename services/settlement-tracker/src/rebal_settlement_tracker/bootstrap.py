"""Wiring, explicitly: settings -> store/runtime -> clock, calendar -> handlers -> router, sweep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from rebal_runtime.clock import Clock, SystemClock
from rebal_runtime.log import get_logger
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.store import DocumentStore
from rebal_settlement_tracker.adapters.run_document import refusal_repository, run_repository
from rebal_settlement_tracker.domain import SettlementPolicy, TradingCalendar
from rebal_settlement_tracker.entrypoints.kafka import build_router
from rebal_settlement_tracker.entrypoints.sweep import SettlementSweep
from rebal_settlement_tracker.service_layer.handlers import SettlementHandlers
from rebal_settlement_tracker.service_layer.rereport import rereport_recent
from rebal_settlement_tracker.settings import SettlementSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class SettlementService:
    settings: SettlementSettings
    runtime: ServiceRuntime
    handlers: SettlementHandlers
    sweep: SettlementSweep
    clock: Clock


def bootstrap(
    settings: SettlementSettings,
    *,
    clock: Clock | None = None,
    store: DocumentStore | None = None,
    calendar: TradingCalendar | None = None,
    market_timezone: tzinfo | None = None,
) -> SettlementService:
    """Build the service; nothing connects until `runtime.start()`."""
    runtime = ServiceRuntime(settings, store=store)
    clock = clock or SystemClock()
    calendar = calendar if calendar is not None else runtime.trading_calendar()
    market_timezone = market_timezone or settings.market_tz
    policy = SettlementPolicy(
        calendar,
        market_timezone,
        settings.cycles(),
        settings.run_timeout(),
        cancel_wait=settings.cancel_wait(),
    )
    acceptance = settings.acceptance()
    handlers = SettlementHandlers(
        run_repository(runtime.store),
        clock,
        policy,
        producer=settings.service_name,
        refusals=refusal_repository(runtime.store),
        acceptance=acceptance,
    )
    runtime.include_router(build_router(settings, handlers))

    async def announce_trust() -> None:
        if acceptance.platform_signer is None:
            log.warning(
                "no trusted signers: PLATFORM fills and closes are trusted on the broker ACLs "
                "alone (set REBAL_TRUSTED_SIGNERS to verify the order-router's signature)"
            )
        else:
            log.info("PLATFORM fills and closes must be signed", signer=acceptance.platform_signer)

    runtime.on_start(announce_trust)

    async def broker_lost_records(reason: str) -> None:
        # A run.completed or run.settled the broker lost would leave its portfolio blocked.
        await rereport_recent(handlers, reason)

    runtime.on_broker_data_lost(broker_lost_records)
    sweep = SettlementSweep(handlers, settings.settlement_sweep_seconds, clock)
    runtime.on_start(sweep.start)
    runtime.on_stop(sweep.stop)
    return SettlementService(settings, runtime, handlers, sweep, clock)
