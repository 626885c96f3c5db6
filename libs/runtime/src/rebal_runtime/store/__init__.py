"""Store port and adapters; `open_store(settings)` picks the adapter from `store_url`."""

from __future__ import annotations

from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store.memory import InMemoryStore
from rebal_runtime.store.port import (
    Commit,
    ConcurrencyError,
    Document,
    DocumentStore,
    OutboxMessage,
    PendingMessage,
    StoreUnavailable,
)


def store_from_settings(settings: RuntimeSettings) -> DocumentStore:
    url = settings.store.url
    if url.startswith("sqlite:///"):
        from rebal_runtime.store.sqlite import SqliteStore

        return SqliteStore.from_url(
            url, settings.processed_ids_kept, inline=settings.store.sqlite_inline
        )
    if url.startswith(("mongodb://", "mongodb+srv://")):
        from rebal_runtime.store.mongo import MongoStore

        return MongoStore.from_url(url, settings.store.database, settings.processed_ids_kept)
    if url == "memory://":
        return InMemoryStore(settings.processed_ids_kept)
    raise ValueError(f"unsupported store_url {url!r} (sqlite:///..., mongodb://..., memory://)")


__all__ = [
    "Commit",
    "ConcurrencyError",
    "Document",
    "DocumentStore",
    "InMemoryStore",
    "OutboxMessage",
    "PendingMessage",
    "StoreUnavailable",
    "store_from_settings",
]
