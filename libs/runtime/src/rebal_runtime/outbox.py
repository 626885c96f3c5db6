"""The outbox relay: claims committed events, publishes them (acks=all), then settles them.

Several relays may share one store (two instances of a service on one MongoDB or one SQLite
file). Each claims a lease on the documents whose outbox it publishes
(`DocumentStore.claim_pending`, owner id per relay), so two relays never publish the same row while
its lease lives; a crashed relay's rows stay in the outbox and another relay publishes them once
the lease expired. A row leaves the outbox only once the broker acknowledged it (`settle`): a crash
between publish and settle re-sends, never loses, and consumers dedupe on `event_id`, so a re-send
is harmless.

A service with a signing key signs every record it sends (`rebal-signature` header,
`rebal_runtime.signing`). The signature is made at send time over the exact topic, key and value
bytes, so rows committed before the key was configured are signed too.

A message that can never be published (larger than the broker accepts, an invalid topic) is
quarantined once it failed on its own: moved out of the outbox with the reason, kept readable
(`DocumentStore.quarantined_outbox`) and logged, so nothing behind it waits (docs/design.md §4). Other
failures (broker down, timeouts) keep the rows, and this relay's lease on them, and are retried
with backoff.

A commit wakes the relay at once (low latency); a poll catches anything else, such as messages
left by a previous process or by a crashed instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from rebal_runtime.backoff import Backoff
from rebal_runtime.kafka_security import aiokafka_security
from rebal_runtime.log import get_logger
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.settings_groups import OutboxSettings
from rebal_runtime.signing import signer_from_settings
from rebal_runtime.store.port import DocumentStore, OutboxMessage, PendingMessage

log = get_logger(__name__)
_MAX_RETRY_SECONDS = 10.0  # a relay that lost Kafka retries at least this often

DEFAULT_LEASE_SECONDS: float = OutboxSettings.model_fields["lease_seconds"].default

#: Errors that say this message will never be accepted, however often it is sent.
PERMANENT_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)

SendResults = Sequence[BaseException | None]


class Unpublishable(Exception):
    """A sender's verdict that a message can never be published: the relay quarantines it."""


class PublishIncomplete(Exception):
    """Some claimed messages were not acknowledged (transiently): they stay pending."""


def permanent_failure(exc: BaseException) -> str | None:
    """The quarantine reason when `exc` means the message can never be published, else None."""
    if isinstance(exc, (Unpublishable, *PERMANENT_PUBLISH_ERRORS)):
        return f"{type(exc).__name__}: {exc}"
    return None


def relay_owner_id() -> str:
    """Unique per relay instance: host, process, and a random part (pids are reused)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


class MessageSender(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send_batch(self, messages: Sequence[OutboxMessage]) -> SendResults | None:
        """Publish all, in order per key. Returns one entry per message, None when acknowledged,
        else its error (None for the whole result: all acknowledged). Raising means nothing is
        known of the batch: the relay then treats every message as failed with that error."""


class AiokafkaSender:
    def __init__(self, settings: RuntimeSettings, send_timeout: float = 30.0) -> None:
        self.settings = settings
        self.send_timeout = send_timeout
        self.signer = signer_from_settings(settings)
        self._producer: Any = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers,
            client_id=f"{self.settings.service_name}-outbox",
            acks="all",
            enable_idempotence=self.settings.kafka.idempotent_producer,
            linger_ms=1,
            **aiokafka_security(self.settings),
        )
        await self._producer.start()
        if self.signer is not None:
            log.info("outbox records are signed", signer=self.signer.name)

    async def stop(self) -> None:
        if self._producer is not None:
            # aiokafka's stop() can hang while Kafka is down (aiokafka#1101): bound it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._producer.stop(), self.send_timeout)
            self._producer = None

    async def send_batch(self, messages: Sequence[OutboxMessage]) -> SendResults:
        results: list[BaseException | None] = [None] * len(messages)
        sent: dict[int, asyncio.Future[Any]] = {}
        for i, m in enumerate(messages):
            headers = list(m.headers)
            if self.signer is not None:
                headers = self.signer.signed_headers(m.topic, m.key, m.value, headers)
            try:
                sent[i] = await self._producer.send(
                    m.topic, value=m.value, key=m.key, headers=headers
                )
            except PERMANENT_PUBLISH_ERRORS as exc:  # refused before it left: this one only
                results[i] = exc
            except Exception as exc:  # the producer cannot send now: neither this nor the rest
                results[i:] = [exc] * (len(messages) - i)
                break
        if sent:
            done, _ = await asyncio.wait(sent.values(), timeout=self.send_timeout)
            for i, future in sent.items():
                if future not in done:
                    future.add_done_callback(_retrieve)  # late outcome: nobody waits for it
                    results[i] = TimeoutError(f"not acknowledged within {self.send_timeout}s")
                elif future.cancelled():
                    results[i] = asyncio.CancelledError()
                else:
                    results[i] = future.exception()
        return results


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class OutboxRelay:
    def __init__(
        self,
        store: DocumentStore,
        sender: MessageSender,
        poll_seconds: float = 0.5,
        batch: int = 500,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        owner: str | None = None,
    ) -> None:
        self.store = store
        self.sender = sender
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.owner = owner if owner is not None else relay_owner_id()
        self.published = 0
        self.quarantined = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()  # set when a round left nothing it could claim behind
        self._commits = 0  # commits seen: one during a round leaves it undrained
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        store.on_commit(self._committed)

    def _committed(self) -> None:
        self._commits += 1
        self._drained.clear()
        self._wake.set()

    async def caught_up(self, timeout: float) -> bool:
        """Wait (at most `timeout`) until the relay has published what was committed before
        the call; True if it has. A batch consumer waits for it before its next poll: a
        handler that never suspends (inline SQLite, pure CPU) would otherwise starve the
        relay on the same loop, and a whole burst would be planned before any of it left."""
        if self._task is None or self._drained.is_set():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)
        return self._drained.is_set()

    async def publish_pending(self) -> int:
        """One round: claim up to `batch` messages, publish, settle; returns how many it claimed.

        Raises PublishIncomplete when some were not acknowledged: those stay in the outbox, the
        others are settled. Settling releases the lease of every document it touched; a document
        of which nothing was settled stays leased to this relay, which retries it first."""
        claimed = await self.store.claim_pending(self.owner, self.lease_seconds, self.batch)
        if not claimed:
            return 0
        started = time.monotonic()
        published: list[PendingMessage] = []
        poison: list[tuple[PendingMessage, BaseException]] = []
        failed: list[tuple[PendingMessage, BaseException]] = []
        for p, error in zip(claimed, await self._send(claimed), strict=True):
            if error is None:
                published.append(p)
            elif permanent_failure(error) is not None:
                poison.append((p, error))
            else:
                failed.append((p, error))
        quarantine: list[tuple[PendingMessage, str]] = []
        for p, error in poison:
            # A broker refuses a whole record batch for one bad record: only a message that also
            # fails on its own is quarantined.
            alone = error if len(claimed) == 1 else (await self._send([p]))[0]
            reason = permanent_failure(alone) if alone is not None else None
            if alone is None:
                published.append(p)
            elif reason is not None:
                quarantine.append((p, reason))
            else:
                failed.append((p, alone))
        elapsed = time.monotonic() - started
        if elapsed >= self.lease_seconds:
            log.warning(
                "outbox publish outlasted its lease: another relay may have sent these too "
                "(harmless, consumers dedupe on event_id); raise outbox_lease_seconds",
                seconds=round(elapsed, 3),
                lease_seconds=self.lease_seconds,
            )
        await self.store.settle(published, quarantine, owner=self.owner)
        for p, reason in quarantine:
            log.error(
                "outbox message quarantined: it can never be published",
                event_id=p.message.event_id,
                topic=p.message.topic,
                collection=p.collection,
                doc_id=p.doc_id,
                value_bytes=len(p.message.value),
                reason=reason,
            )
        self.published += len(published)
        self.quarantined += len(quarantine)
        if failed:
            raise PublishIncomplete(
                f"{len(failed)} of {len(claimed)} outbox messages not acknowledged"
            ) from failed[0][1]
        return len(claimed)

    async def _send(self, pending: Sequence[PendingMessage]) -> list[BaseException | None]:
        try:
            results = await self.sender.send_batch([p.message for p in pending])
        except Exception as exc:
            return [exc] * len(pending)
        if results is None:
            return [None] * len(pending)
        if len(results) != len(pending):
            raise RuntimeError(f"sender answered {len(results)} results for {len(pending)}")
        return list(results)

    async def drain(self) -> None:
        while await self.publish_pending() == self.batch:
            pass

    async def start(self) -> None:
        await self.sender.start()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.drain()  # last chance; whatever is left is sent by the next start
        await self.sender.stop()

    async def _run(self) -> None:
        backoff = Backoff(self.poll_seconds, max(self.poll_seconds, _MAX_RETRY_SECONDS))
        failures = 0
        while not self._stopping:
            self._wake.clear()
            commits = self._commits
            try:
                sent = await self.publish_pending()
                failures = 0
            except Exception as exc:  # Kafka or store down: keep the messages, retry later
                delay = backoff.delay(failures)
                log.warning("outbox publish failed; will retry", error=repr(exc), retry_in=delay)
                sent = 0
                failures += 1
                await asyncio.sleep(delay)
            if sent == self.batch:
                continue
            if failures == 0 and commits == self._commits:
                self._drained.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
