"""The simulator's `market.prices` consumer: every last price it reads goes into the price book.

Prices are a last-value table, so at-least-once with auto-commit is enough here: a redelivered or
older price is ignored by the price book (`as_of` ordering). Undecodable messages are skipped; the
services, not the simulator, own dead-lettering. On a secured Kafka it reads as the principal
`broker-simulator` (`security`: aiokafka's SASL options), which may read `market.prices` only.
A stop lets the price in hand go into the book, then closes the consumer (`rebal_runtime.periodic`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer

from rebal_broker_sim.service_layer.ports import PriceBook
from rebal_runtime.periodic import Background
from rebal_schemas import PoisonMessage, PriceUpdated, decode

log = logging.getLogger(__name__)
RETRY_SECONDS = 2.0  # Kafka away: try again shortly, prices are not urgent


class MarketPriceFeed:
    def __init__(
        self,
        bootstrap_servers: str,
        price_book: PriceBook,
        group_id: str = "broker-simulator",
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.price_book = price_book
        self.group_id = group_id
        self._security = dict(security or {})
        self.applied = 0
        self._background = Background("market-price-feed", self._run)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()

    async def _run(self) -> None:
        while True:
            consumer: Any = AIOKafkaConsumer(
                "market.prices",
                bootstrap_servers=self.bootstrap_servers,
                group_id=self.group_id,
                auto_offset_reset="earliest",
                session_timeout_ms=6000,
                heartbeat_interval_ms=1000,
                **self._security,
            )
            try:
                await consumer.start()
                async for record in consumer:
                    with self._background.busy():
                        await self._apply(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("market.prices consumer failed: %r; retrying", exc)
                await asyncio.sleep(RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _apply(self, raw: bytes) -> None:
        try:
            event = decode("market.prices", raw)
        except PoisonMessage as exc:
            log.warning("skipping undecodable market.prices message: %s", exc.reason)
            return
        if isinstance(event, PriceUpdated):
            await self.price_book.set_price(
                event.symbol, event.price, event.tradable, event.fractionable, event.as_of
            )
            self.applied += 1
