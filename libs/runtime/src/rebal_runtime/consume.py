"""The consume policy of docs/design.md §4, as a FastStream middleware around every handler.

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

Batch subscribers (`batch=True`, the hot topics) get the same policy per message: the batch is
handled in one call and committed once; a transient failure retries the whole batch, then seeks
back; anything else (one bad message poisons a list) re-runs the batch one message at a time, so
exactly the bad ones are dead-lettered and the rest is handled (the inbox makes any message the
failed batch call had already applied a no-op), then the batch is committed once.

A handler that needs its records (headers, coordinates) reads `handled_records()`, one per event
of its call, set by the middleware for each call: cheaper than FastStream's `KafkaMessage`
parameter, whose injection costs a worker-thread hop per call.

The decoder (`decode_body`) applies two rules to every record, so that no service has to:

- **an event without `event_id` gets one from the record's coordinates** (`coordinates_id`), the
  same at every decode of that record: the batch call, the one-at-a-time re-run of a failed
  batch, an in-process retry, and a redelivery after a crash or a seek back all see one id, and
  the inbox applies the event once;
- **the Kafka key must be the event's key** (`rebal_schemas.check_key`: `portfolio_id`,
  `model_id` for model.updated, `symbol` for market.prices): a record with another key, or none,
  is dead-lettered with the reason (its events would not be ordered with the portfolio's others).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import enum
import hashlib
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import structlog
from aiokafka.errors import KafkaError
from faststream._internal.middlewares import BaseMiddleware
from pydantic import ValidationError

from rebal_runtime.backoff import Backoff
from rebal_runtime.log import get_logger
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store.port import ConcurrencyError, StoreUnavailable
from rebal_schemas import MessageDeadLettered, PoisonMessage, check_key, loads
from rebal_schemas.codec import describe
from rebal_schemas.types import MAX_ID_LENGTH, utc_now

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
    """FastStream decoder: orjson + the upcaster chain, before pydantic validates the handler param,
    with the record's key checked and a missing `event_id` derived from its coordinates. A batch
    message's body is the list of its records' values."""
    if isinstance(msg.body, list):
        return [
            decode_record(body, record)
            for body, record in zip(msg.body, records_of(msg), strict=True)
        ]
    return decode_record(msg.body, records_of(msg)[0])


def decode_record(body: bytes, record: Any) -> dict[str, Any]:
    """One record's value as a payload dict; `PoisonMessage` if it can never be an event."""
    data = loads(body if body is not None else b"", event_id=coordinates_id(record))
    check_key(record.topic, record.key, data)
    return data


def coordinates_id(record: Any) -> str:
    """The event id of a record whose producer sent none: topic, partition, offset, timestamp.

    Why coordinates and not a hash of the content: the id must name *this record*, and only the
    coordinates do. Two identical deposits sent on purpose (the same amount twice, no id) are two
    records and must both count; a content hash would merge them into one. The coordinates stay
    the same for every read of the record, whichever consumer, batch or retry reads it, so a
    redelivery is recognised. The record's timestamp (stored with it; set by the producer or the
    broker) keeps the id from colliding with an older record at the same offset of a topic that
    was deleted and created again. What coordinates cannot recognise is a producer sending the
    same event twice (two records): a producer that may retry sends an `event_id` (and a deposit
    its `deposit_id`).
    """
    ident = f"kafka:{record.topic}:{record.partition}:{record.offset}:{record.timestamp}"
    if len(ident) <= MAX_ID_LENGTH:
        return ident
    return "kafka:sha256:" + hashlib.sha256(ident.encode()).hexdigest()


def records_of(msg: Any) -> tuple[Any, ...]:
    """The Kafka records behind a FastStream message: one, or a batch's tuple."""
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


_HANDLED: ContextVar[tuple[Any, ...]] = ContextVar("rebal_handled_records", default=())


def handled_records() -> tuple[Any, ...]:
    """The Kafka records of the message the running handler call was given, one per event (a
    batch's, in its order); empty outside ReliableConsume (a handler called directly)."""
    return _HANDLED.get()


def one_of(batch: Any, index: int) -> Any:
    """The `index`-th record of a batch message as a batch of one (same decoder, own cache)."""
    single = copy.copy(batch)  # StreamMessage.__copy__ gives the copy its own decode cache
    single.raw_message = (batch.raw_message[index],)
    single.body = [batch.body[index]]
    single.batch_headers = batch.batch_headers[index : index + 1]
    single.headers = single.batch_headers[0] if single.batch_headers else {}
    return single


MAX_KEPT_KEY = 1024  # characters of the original key a dead letter keeps
MAX_KEPT_HEADER = 1024  # characters of each original header value a dead letter keeps
MAX_KEPT_HEADERS = 64


def dead_letter_for(msg: Any, group: str, error_type: str, reason: str) -> MessageDeadLettered:
    return record_dead_letter(records_of(msg)[0], group, error_type, reason)


def record_dead_letter(
    record: Any, group: str, error_type: str, reason: str
) -> MessageDeadLettered:
    value: bytes = record.value or b""
    key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else record.key
    # A key or headers of any size must not make the letter itself too large to publish.
    key = key[:MAX_KEPT_KEY] if key is not None else None
    headers = {
        k[:MAX_KEPT_KEY]: (v or b"").decode(errors="replace")[:MAX_KEPT_HEADER]
        for k, v in list(record.headers or ())[:MAX_KEPT_HEADERS]
    }
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
        original_headers=headers,
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
        self.after_batch: Callable[[], Awaitable[object]] | None = None
        """Awaited after a batch of more than one message is committed, before the next poll
        (the service sets it to the outbox relay's catching up)."""
        self.dead_lettered = 0
        self.handled = 0

    def bind(self, publish_dead_letter: DeadLetterPublisher) -> None:
        self.publish_dead_letter = publish_dead_letter

    def __call__(self, msg: Any, /, *, context: Any) -> _ReliableConsumeMiddleware:
        return _ReliableConsumeMiddleware(msg, context=context, policy=self)

    def backoff(self, attempt: int) -> float:
        settings = self.settings
        return Backoff(settings.retry_backoff_seconds, settings.retry_backoff_max_seconds).delay(
            attempt
        )


class _Fate(enum.Enum):
    HANDLED = "handled"
    DEAD_LETTERED = "dead-lettered"  # published to dead.letter: commit it
    RETRY_LATER = "retry later"  # seek back, never commit
    SPLIT = "split"  # a batch failed for a non-transient reason: handle one by one


def _log_context(msg: Any) -> dict[str, Any]:
    records = records_of(msg)
    if len(records) > 1:
        first = records[0]
        return {"topic": first.topic, "batch": len(records), "offset": first.offset}
    record = records[0]
    headers = dict(record.headers or ())
    context = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
    for name in ("event_id", "event_type", "correlation_id"):
        if headers.get(name) is not None:
            context[name] = headers[name][:MAX_ID_LENGTH].decode(errors="replace")
    if record.key:
        context["key"] = record.key[:MAX_ID_LENGTH].decode(errors="replace")
    return context


async def _call(call_next: Any, msg: Any) -> Any:
    """The handler call, with `handled_records()` telling it the records of `msg`."""
    token = _HANDLED.set(records_of(msg))
    try:
        return await call_next(msg)
    finally:
        _HANDLED.reset(token)


class _ReliableConsumeMiddleware(BaseMiddleware):  # type: ignore[type-arg,unused-ignore]
    def __init__(self, msg: Any, /, *, context: Any, policy: ReliableConsume) -> None:
        super().__init__(msg, context=context)
        self.policy = policy

    async def consume_scope(self, call_next: Any, msg: Any) -> Any:
        records = records_of(msg)
        with structlog.contextvars.bound_contextvars(**_log_context(msg)):
            fate, result = await self._attempt(call_next, msg, split=len(records) > 1)
            if fate is _Fate.SPLIT:
                log.warning("batch failed; handling its messages one by one", error=repr(result))
                for index in range(len(records)):
                    single = one_of(msg, index)
                    with structlog.contextvars.bound_contextvars(**_log_context(single)):
                        fate, _ = await self._attempt(call_next, single, split=False)
                    if fate is _Fate.RETRY_LATER:
                        break
                result = None
            if fate is _Fate.RETRY_LATER:
                await msg.nack()  # a batch seeks back every partition it spans
                return None
            await self._ack(msg)
            self.policy.handled += len(records)
            if len(records) > 1 and self.policy.after_batch is not None:
                await self.policy.after_batch()
            return result

    async def _attempt(self, call_next: Any, msg: Any, *, split: bool) -> tuple[_Fate, Any]:
        """Run the handler, retrying what may pass; say what became of the message."""
        policy = self.policy
        attempt = 0
        while True:
            try:
                return _Fate.HANDLED, await _call(call_next, msg)
            except TRANSIENT_ERRORS as exc:
                if attempt >= policy.settings.consume.retries:
                    log.warning(
                        "transient failure persists; message will be re-read", error=repr(exc)
                    )
                    await policy.sleep(policy.settings.retry_backoff_max_seconds)
                    return _Fate.RETRY_LATER, None
            except (PoisonMessage, ValidationError) as exc:
                if split:
                    return _Fate.SPLIT, exc
                if isinstance(exc, PoisonMessage):
                    return await self._dead_letter(msg, type(exc).__name__, exc.reason), None
                return await self._dead_letter(msg, "SchemaViolation", describe(exc)), None
            except Exception as exc:
                if split:
                    return _Fate.SPLIT, exc
                if attempt >= policy.settings.consume.retries:
                    log.error("handler keeps failing; dead-lettering", error=repr(exc))
                    reason = f"handler failed {attempt + 1} times: {exc!r}"
                    return await self._dead_letter(msg, type(exc).__name__, reason), None
                log.warning("handler failed; retrying", error=repr(exc), attempt=attempt)
            await policy.sleep(policy.backoff(attempt))
            attempt += 1

    async def _ack(self, msg: Any) -> None:
        try:
            await msg.ack()
        except KafkaError as exc:
            # The group rebalanced under us: the new owner re-reads the message and the inbox
            # makes the second handling a no-op. Losing nothing matters more than the log noise.
            log.warning("offset commit failed; message will be redelivered", error=repr(exc))

    async def _dead_letter(self, msg: Any, error_type: str, reason: str) -> _Fate:
        policy = self.policy
        if policy.publish_dead_letter is None:
            raise RuntimeError("ReliableConsume is not bound to a dead-letter publisher")
        event = dead_letter_for(msg, policy.settings.service_name, error_type, reason)
        log.warning("dead-lettered", error_type=error_type, reason=reason[:500])
        await policy.publish_dead_letter(event)  # raises if Kafka is down: nothing is committed
        policy.dead_lettered += 1
        return _Fate.DEAD_LETTERED
