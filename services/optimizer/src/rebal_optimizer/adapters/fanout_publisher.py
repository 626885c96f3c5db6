"""The fan-out sink on the service's FastStream KafkaBroker: pipelined, acks=all publishes.

`publish(..., no_confirm=True)` hands the record to the producer and returns its delivery future
at once, so a whole batch is in flight together; the batch returns only when every record was
acknowledged (a failure raises, the parent request is not acked and is redone; see fanout.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from rebal_schemas import RebalanceRequested, encode, key_of


class BrokerFanoutSink:
    def __init__(self, broker: KafkaBroker, timeout_seconds: float = 60.0) -> None:
        self.broker = broker
        self.timeout_seconds = timeout_seconds
        self.published = 0

    async def publish(self, events: Sequence[RebalanceRequested]) -> None:
        futures: list[Any] = []
        for event in events:
            headers = {
                "event_type": event.event_type,
                "event_id": event.event_id,
                "schema_version": str(event.schema_version),
            }
            futures.append(
                await self.broker.publish(
                    encode(event),
                    topic=event.TOPIC,
                    key=key_of(event),
                    headers=headers,
                    correlation_id=event.correlation_id or event.event_id,
                    no_confirm=True,
                )
            )
        await asyncio.wait_for(asyncio.gather(*futures), self.timeout_seconds)
        self.published += len(events)


class ListFanoutSink:
    """Keeps what it is given: the fake sink for unit tests and benchmarks."""

    def __init__(self) -> None:
        self.events: list[RebalanceRequested] = []

    async def publish(self, events: Sequence[RebalanceRequested]) -> None:
        self.events.extend(events)
