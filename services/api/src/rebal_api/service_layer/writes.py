"""Every write: decided on the read model, committed with its answer, applied at once.

A write's events go to the outbox in ONE atomic commit with the record of its answer (the
`requests` document of its idempotency key; the outbox relay publishes them with acks=all), then
the projection applies them at once under their own event ids, so a client reads what it just
wrote and the same events coming back from Kafka are no-ops.

`Idempotency-Key`: a repeated key gets the first answer back and publishes nothing new; the same
key with another request is refused (422). A refused request (4xx) records nothing: trying it
again decides again. A write without a key is recorded under its first event's id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from rebal_api.domain.views import RequestRecord
from rebal_api.service_layer.errors import Unprocessable
from rebal_api.service_layer.ports import ReadModel
from rebal_api.service_layer.projector import Projector
from rebal_runtime.repository import Outcome
from rebal_schemas import Event, encode


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any = None
    replayed: bool = False


Decision = tuple[Answer, Sequence[Event]]
E = TypeVar("E", bound=Event)


def fingerprint(method: str, path: str, body: str) -> str:
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def as_consumed(event: E) -> E:
    """The event as every consumer decodes it from its JSON (each field named, null or not),
    so the projection reads it exactly as the owning service will."""
    return type(event).model_validate_json(encode(event))


class Writes:
    def __init__(self, read: ReadModel, projector: Projector) -> None:
        self.read = read
        self.projector = projector

    @staticmethod
    def _replay(record: RequestRecord | None, print_: str) -> Answer:
        assert record is not None, "a request record is never deleted"
        if record.fingerprint != print_:
            raise Unprocessable("Idempotency-Key was already used for a different request")
        return Answer(record.status, record.body, replayed=True)

    async def perform(
        self, key: str | None, print_: str, decide: Callable[[], Awaitable[Decision]]
    ) -> Answer:
        doc_id = "key:" + hashlib.sha256(key.encode()).hexdigest() if key is not None else None
        if doc_id is not None and (found := await self.read.requests.load(doc_id)) is not None:
            return self._replay(found, print_)
        answer, decided = await decide()
        events = [as_consumed(e) for e in decided]
        if doc_id is None:
            if not events:
                return answer
            doc_id = "event:" + events[0].event_id
        record = RequestRecord(print_, answer.status, answer.body)
        committed = await self.read.requests.update(
            doc_id, None, lambda current: None if current else Outcome(record, publish=events)
        )
        if committed is None:  # a concurrent request with the same key committed first
            return self._replay(await self.read.requests.load(doc_id), print_)
        for event in events:
            await self.projector.apply(event)
        return answer
