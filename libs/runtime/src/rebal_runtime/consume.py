"""The consume policy of DESIGN §4, as a FastStream middleware around every handler.

FastStream's Kafka default (ACK_FIRST) commits before the handler runs and loses failed messages;
NACK_ON_ERROR re-reads a poison message thousands of times a second and blocks the partition. So
subscribers run with AckPolicy.MANUAL and this middleware decides:

- success                      -> commit the offset (after the store commit the handler made);
- poison (bad JSON, schema,    -> publish to `dead.letter` with the reason, then commit:
  refers to what never exists)    nothing behind it stalls;
- transient (store or Kafka    -> retry with exponential backoff; after `consume_retries` seek
  down, version conflict)         back (nack) so the message is read again: never committed;
- any other exception (a bug)  -> retried the same way, then dead-lettered with the traceback's
                                  summary: the message is kept, the partition keeps flowing;
- cancellation (shutdown)      -> nothing is committed; the next owner of the partition redoes it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from faststream._internal.middlewares import BaseMiddleware
from pydantic import ValidationError

from rebal_runtime.log import get_logger
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store.port import ConcurrencyError, StoreUnavailable
from rebal_schemas import MessageDeadLettered, PoisonMessage, loads
from rebal_schemas.codec import describe
from rebal_schemas.types import utc_now

log = get_logger(__name__)


class Transient(Exception):
    """Raise from a handler for a failure that will go away (a dependency is down)."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    Transient,
    ConcurrencyError,
    StoreUnavailable,
    KafkaError,
    ConnectionError,
    TimeoutError,
    OSError,
)

DeadLetterPublisher = Callable[[MessageDeadLettered], Awaitable[None]]


async def decode_body(msg: Any, original: Any = None) -> Any:
    """FastStream decoder: orjson + the upcaster chain, before pydantic validates the handler param."""
    return loads(msg.body)


def dead_letter_for(msg: Any, group: str, error_type: str, reason: str) -> MessageDeadLettered:
    record = msg.raw_message
    value: bytes = record.value or b""
    key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key
    # Deterministic id: dead-lettering the same record twice (crash before commit) is one event.
    digest = hashlib.sha256(f"{group}/{record.topic}/{record.partition}/{record.offset}".encode())
    return MessageDeadLettered(
        event_id="dl-" + digest.hexdigest()[:32],
        producer=group,
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        original_value_b64=base64.b64encode(value[: MessageDeadLettered.MAX_KEPT_BYTES]).decode(),
        original_size=len(value),
        truncated=len(value) > MessageDeadLettered.MAX_KEPT_BYTES,
        original_headers={k: v.decode(errors="replace") for k, v in (record.headers or ())},
        consumer_group=group,
        error_type=error_type,
        reason=reason[:4000],
        failed_at=utc_now(),
    )


class ReliableConsume:
    """Middleware factory: `KafkaBroker(middlewares=[ReliableConsume(settings)])`."""

    def __init__(
        self, settings: RuntimeSettings, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.publish_dead_letter: DeadLetterPublisher | None = None
        self.dead_lettered = 0
        self.handled = 0

    def bind(self, publish_dead_letter: DeadLetterPublisher) -> None:
        self.publish_dead_letter = publish_dead_letter

    def __call__(self, msg: Any, /, *, context: Any) -> _ReliableConsumeMiddleware:
        return _ReliableConsumeMiddleware(msg, context=context, policy=self)

    def backoff(self, attempt: int) -> float:
        delay: float = self.settings.retry_backoff_seconds * (2**attempt)
        return min(delay, self.settings.retry_backoff_max_seconds)


def _log_context(msg: Any) -> dict[str, Any]:
    record = msg.raw_message
    headers = {k: v.decode(errors="replace") for k, v in (record.headers or ())}
    context = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    for name in ("event_id", "event_type", "correlation_id"):
        if name in headers:
            context[name] = headers[name]
    if record.key:
        context["key"] = record.key.decode(errors="replace")
    return context


class _ReliableConsumeMiddleware(BaseMiddleware):  # type: ignore[type-arg,unused-ignore]
    def __init__(self, msg: Any, /, *, context: Any, policy: ReliableConsume) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        policy = self.policy
        with structlog.contextvars.bound_contextvars(**_log_context(msg)):
            attempt = 0
            while True:
                try:
                    result = await call_next(msg)
                except PoisonMessage as exc:
                    return await self._dead_letter(msg, type(exc).__name__, exc.reason)
                except ValidationError as exc:
                    return await self._dead_letter(msg, "SchemaViolation", describe(exc))
                except TRANSIENT_ERRORS as exc:
                    if attempt >= policy.settings.consume_retries:
                        log.warning(
                            "transient failure persists; message will be re-read", error=repr(exc)
                        )
                        await policy.sleep(policy.settings.retry_backoff_max_seconds)
                        await msg.nack()
                        return None
                except Exception as exc:
                    if attempt >= policy.settings.consume_retries:
                        log.error("handler keeps failing; dead-lettering", error=repr(exc))
                        return await self._dead_letter(
                            msg, type(exc).__name__, f"handler failed {attempt + 1} times: {exc!r}"
                        )
                    log.warning("handler failed; retrying", error=repr(exc), attempt=attempt)
                else:
                    await self._ack(msg)
                    policy.handled += 1
                    return result
                await policy.sleep(policy.backoff(attempt))
                attempt += 1

    async def _ack(self, msg: Any) -> None:
        try:
            await msg.ack()
        except KafkaError as exc:
            # The group rebalanced under us: the new owner re-reads the message and the inbox
            # makes the second handling a no-op. Losing nothing matters more than the log noise.
            log.warning("offset commit failed; message will be redelivered", error=repr(exc))

    async def _dead_letter(self, msg: Any, error_type: str, reason: str) -> None:
        policy = self.policy
        if policy.publish_dead_letter is None:
            raise RuntimeError("ReliableConsume is not bound to a dead-letter publisher")
        event = dead_letter_for(msg, policy.settings.service_name, error_type, reason)
        log.warning("dead-lettered", error_type=error_type, reason=reason[:500])
        await policy.publish_dead_letter(event)  # raises if Kafka is down: nothing is committed
        await self._ack(msg)
        policy.dead_lettered += 1
