"""MongoDB DocumentStore on PyMongo's async API (`AsyncMongoClient`), one Mongo collection per
aggregate collection. Every write is a single-document update, so no replica set is needed for
correctness (docs/design.md §4); the client is injected so tests can pass `mongomock-motor`'s client.

It also runs on FerretDB v1 (the project's Mongo-wire test server), whose gaps it works around:
- nested arrays are refused: outbox headers are stored as `{"name", "value"}` documents (the former
  `[name, value]` pairs are still read);
- `$push`'s `$slice` is silently ignored: there the processed-id window is read under the expected
  version and written with `$set` (the write stays conditional on that version);
- `$pull` with a condition silently removes nothing (only equal elements): there published
  messages are removed with `$pullAll` of the exact stored entries.
Its updates are not atomic under contention (docs/design.md §5 "Store backends and their
limits": the matching document is read, then written back whole), which no adapter can fix:
two concurrent writers of one document may both succeed or lose each other's change.

Outbox claims are leases in a collection of their own (`outbox_leases`, one per claimed aggregate
document, `_id` unique), never fields of the aggregate: a claim writes no aggregate document, so
it can neither move a version a handler's commit is conditional on nor, on FerretDB, write back a
stale copy over a commit. A lease is taken by inserting it (the unique `_id` lets exactly one
claimer in) or by renewing one's own; an expired lease is deleted first. On FerretDB two claimers
racing for one expired lease may both get it: a duplicate publish, never a lost row. Quarantined
messages go to `outbox_quarantine` (inserted before they leave the outbox: a crash in between
leaves the row pending, never lost).

Named leases (`acquire_lease`) are documents of `store_leases` (`_id` = the name): renewed or
taken over by one conditional update (owner is us, or the lease has expired), else created by an
insert that the unique `_id` lets only one acquirer through. On MongoDB both are atomic per
document; on FerretDB two acquirers racing for one expired lease may both get it (docs/design.md §5).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from rebal_runtime.store.port import (
    Commit,
    ConcurrencyError,
    Document,
    DocumentStore,
    IndexValue,
    JsonDict,
    OutboxMessage,
    PendingMessage,
    QuarantinedMessage,
    StoreUnavailable,
    now_or_clock,
)

_APPEND_PREFIX = "log_"
_LEASES = "outbox_leases"
_QUARANTINE = "outbox_quarantine"
_NAMED_LEASES = "store_leases"
_DUPLICATE_KEY = 11000


def _is_aggregate(name: str) -> bool:
    return not name.startswith(_APPEND_PREFIX) and name not in (
        _LEASES,
        _QUARANTINE,
        _NAMED_LEASES,
    )


class MongoStore(DocumentStore):
    def __init__(self, client: Any, database: str, processed_ids_kept: int = 1000) -> None:
        super().__init__(processed_ids_kept)
        self.client = client
        self.db = client[database]
        self._collections: set[str] = set()
        self._indexed: set[tuple[str, str]] = set()
        # FerretDB (found by open()): work around its $push $slice and $pull gaps
        self._ferretdb = False
        # Collections another process created since open() hold outbox rows too (a crashed
        # instance's): claims list the collections again when the last list is this old.
        self.relist_collections_seconds = 5.0
        self._listed_at = float("-inf")

    @classmethod
    def from_url(cls, url: str, database: str, processed_ids_kept: int = 1000) -> MongoStore:
        from pymongo import AsyncMongoClient

        # w="majority" + journaled writes: an acknowledged commit survives a node crash.
        client: Any = AsyncMongoClient(url, w="majority", journal=True, tz_aware=True)
        return cls(client, database, processed_ids_kept)

    async def open(self) -> None:
        await self._list_collections()
        try:
            info = await self.db.command("buildInfo")
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        self._ferretdb = "ferretdbVersion" in info

    async def _list_collections(self) -> None:
        try:
            names = await self.db.list_collection_names()
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        self._collections.update(n for n in names if _is_aggregate(n))
        self._listed_at = time.monotonic()

    async def close(self) -> None:
        closer = getattr(self.client, "close", None)
        if closer is not None:
            result = closer()
            if hasattr(result, "__await__"):
                await result

    async def load(self, collection: str, doc_id: str) -> Document | None:
        raw = await self.db[collection].find_one({"_id": doc_id})
        if raw is None:
            return None
        return Document(
            collection, doc_id, raw["version"], raw["state"], tuple(raw.get("processed", []))
        )

    async def load_many(self, collection: str, ids: Sequence[str]) -> dict[str, Document]:
        wanted = list(dict.fromkeys(ids))
        try:
            raws = await self.db[collection].find({"_id": {"$in": wanted}}).to_list(None)
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return {
            raw["_id"]: Document(
                collection,
                raw["_id"],
                raw["version"],
                raw["state"],
                tuple(raw.get("processed", [])),
            )
            for raw in raws
        }

    async def _ensure_index(self, collection: str, field: str) -> None:
        if (collection, field) not in self._indexed:
            await self.db[collection].create_index([(f"ix.{field}", 1), ("_id", 1)])
            self._indexed.add((collection, field))

    async def _commit(self, c: Commit) -> int:
        self._collections.add(c.collection)
        for field in c.index:
            await self._ensure_index(c.collection, field)
        outbox = [{**_outbox_doc(m), "rid": uuid.uuid4().hex} for m in c.outbox]
        processed = list(c.processed_ids)
        coll = self.db[c.collection]
        try:
            if c.expected_version == 0:
                await coll.insert_one(
                    {
                        "_id": c.id,
                        "version": 1,
                        "state": c.state,
                        "processed": processed[-self.processed_ids_kept :],
                        "outbox": outbox,
                        "ix": {k: v for k, v in c.index.items() if v is not None},
                    }
                )
                return 1
            current = {"_id": c.id, "version": c.expected_version}
            update: dict[str, Any] = {
                "$set": {"state": c.state, "version": c.expected_version + 1}
                | {f"ix.{k}": v for k, v in c.index.items() if v is not None},
                "$push": {"outbox": {"$each": outbox}},
            }
            if not self._ferretdb:
                update["$push"]["processed"] = {
                    "$each": processed,
                    "$slice": -self.processed_ids_kept,
                }
            elif processed:
                # Read-then-write is safe here: only a commit changes `processed`, and every
                # commit moves the version the update below is conditional on.
                raw = await coll.find_one(current, {"processed": 1})
                if raw is None:
                    raise ConcurrencyError(
                        f"{c.collection}/{c.id}: version {c.expected_version} is not current"
                    )
                window = [*raw.get("processed", []), *processed][-self.processed_ids_kept :]
                update["$set"]["processed"] = window
            unset = {f"ix.{k}": "" for k, v in c.index.items() if v is None}
            if unset:
                update["$unset"] = unset
            result = await coll.update_one(current, update)
        except DuplicateKeyError as exc:
            raise ConcurrencyError(f"{c.collection}/{c.id} already exists") from exc
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        if result.matched_count != 1:
            raise ConcurrencyError(
                f"{c.collection}/{c.id}: version {c.expected_version} is not current"
            )
        return c.expected_version + 1

    async def query(
        self,
        collection: str,
        field: str,
        value: IndexValue,
        *,
        op: Literal["eq", "le"] = "eq",
        after_id: str | None = None,
        limit: int = 1000,
    ) -> list[str]:
        condition: Any = value if op == "eq" else {"$lte": value}
        flt: dict[str, Any] = {f"ix.{field}": condition}
        if after_id is not None:
            flt["_id"] = {"$gt": after_id}
        cursor = self.db[collection].find(flt, {"_id": 1}).sort("_id", 1).limit(limit)
        return [d["_id"] async for d in cursor]

    async def scan(
        self, collection: str, *, after_id: str | None = None, limit: int = 1000
    ) -> list[str]:
        flt = {"_id": {"$gt": after_id}} if after_id is not None else {}
        cursor = self.db[collection].find(flt, {"_id": 1}).sort("_id", 1).limit(limit)
        return [d["_id"] async for d in cursor]

    async def append(self, collection: str, doc_id: str, body: JsonDict) -> bool:
        try:
            await self.db[_APPEND_PREFIX + collection].insert_one({"_id": doc_id, "body": body})
        except DuplicateKeyError:
            return False
        return True

    async def get_appended(self, collection: str, doc_id: str) -> JsonDict | None:
        raw = await self.db[_APPEND_PREFIX + collection].find_one({"_id": doc_id})
        return raw["body"] if raw else None

    async def pending_outbox(self, limit: int = 500) -> list[PendingMessage]:
        pending: list[PendingMessage] = []
        for name in sorted(self._collections):
            cursor = self.db[name].find({"outbox.0": {"$exists": True}}, {"outbox": 1}).limit(limit)
            async for doc in cursor:
                pending.extend(_pending(name, doc["_id"], m) for m in doc["outbox"])
                if len(pending) >= limit:
                    return pending[:limit]
        return pending

    async def claim_pending(
        self, owner: str, lease_seconds: float, limit: int = 500, *, now: float | None = None
    ) -> list[PendingMessage]:
        at = now_or_clock(now)
        if time.monotonic() - self._listed_at >= self.relist_collections_seconds:
            await self._list_collections()
        claimed: list[PendingMessage] = []
        try:
            for name in sorted(self._collections):
                if len(claimed) >= limit:
                    break
                claimed += await self._claim_in(
                    name, owner, at, at + lease_seconds, limit - len(claimed)
                )
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return claimed

    async def _claim_in(
        self, name: str, owner: str, at: float, until: float, room: int
    ) -> list[PendingMessage]:
        leases = self.db[_LEASES]
        held = leases.find({"c": name, "until": {"$gt": at}, "owner": {"$ne": owner}}, {"d": 1})
        taken = [d["d"] async for d in held]  # live leases of others: skip, do not wait on them
        flt: dict[str, Any] = {"outbox.0": {"$exists": True}}
        if taken:
            flt["_id"] = {"$nin": taken}
        cursor = self.db[name].find(flt, {"_id": 1}).sort("_id", 1).limit(room)
        ids = [d["_id"] async for d in cursor]
        if not ids:
            return []
        keys = {_lease_id(name, i): i for i in ids}
        token = secrets.token_hex(8)  # tells the leases of this claim from any other
        await leases.delete_many({"_id": {"$in": list(keys)}, "until": {"$lte": at}})
        await leases.update_many(
            {"_id": {"$in": list(keys)}, "owner": owner},
            {"$set": {"until": until, "token": token}},
        )
        try:
            await leases.insert_many(
                [
                    {"_id": k, "c": name, "d": i, "owner": owner, "until": until, "token": token}
                    for k, i in keys.items()
                ],
                ordered=False,
            )
        except BulkWriteError as exc:  # a live lease exists (ours, just renewed, or another's)
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
        won = [d["d"] async for d in leases.find({"_id": {"$in": list(keys)}, "token": token})]
        if not won:
            return []
        # The outbox is read only now, under the lease: what another relay settled before we
        # took it is gone, not re-sent.
        docs = self.db[name].find({"_id": {"$in": won}}, {"outbox": 1}).sort("_id", 1)
        claimed: list[PendingMessage] = []
        used: set[str] = set()
        async for doc in docs:
            take = doc.get("outbox", [])[: room - len(claimed)]
            claimed += [_pending(name, doc["_id"], m) for m in take]
            if take:
                used.add(doc["_id"])
        unused = [_lease_id(name, i) for i in won if i not in used]
        if unused:
            await leases.delete_many({"_id": {"$in": unused}, "token": token})
        return claimed

    async def settle(
        self,
        published: Sequence[PendingMessage] = (),
        quarantined: Sequence[tuple[PendingMessage, str]] = (),
        *,
        owner: str | None = None,
        now: float | None = None,
    ) -> None:
        if not published and not quarantined:
            return
        at = now_or_clock(now)
        by_doc: dict[tuple[str, str], list[PendingMessage]] = {}
        for p in [*published, *(q for q, _ in quarantined)]:
            by_doc.setdefault((p.collection, p.doc_id), []).append(p)
        try:
            if quarantined:  # first into the quarantine, then out of the outbox: never lost
                await self._quarantine(quarantined, at)
            for (collection, doc_id), rows in by_doc.items():
                await self.db[collection].update_one({"_id": doc_id}, self._pull(rows))
            if owner is not None:  # after the rows left: nobody can claim them again
                keys = [_lease_id(c, d) for c, d in by_doc]
                await self.db[_LEASES].delete_many({"_id": {"$in": keys}, "owner": owner})
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc

    def _pull(self, rows: Sequence[PendingMessage]) -> dict[str, Any]:
        """The update that takes exactly these rows out of a document's outbox: by their row id
        (the same event may be there twice); rows written before row ids by their event id."""
        if self._ferretdb:
            # entries rebuilt as this adapter wrote them, so equal field by field
            return {"$pullAll": {"outbox": [_stored_entry(p) for p in rows]}}
        rids = [p.row for p in rows if p.row]
        legacy = [p.message.event_id for p in rows if not p.row]
        match: dict[str, Any] = {"rid": {"$in": rids}}
        if legacy:
            old = {"event_id": {"$in": legacy}, "rid": {"$exists": False}}
            match = {"$or": [match, old]} if rids else old
        return {"$pull": {"outbox": match}}

    async def _quarantine(
        self, quarantined: Sequence[tuple[PendingMessage, str]], at: float
    ) -> None:
        entries = {
            f"{_lease_id(p.collection, p.doc_id)}:{p.message.event_id}": {
                "c": p.collection,
                "d": p.doc_id,
                "message": _outbox_doc(p.message),
                "reason": reason,
                "at": at,
            }
            for p, reason in quarantined
        }
        try:
            await self.db[_QUARANTINE].insert_many(
                [{"_id": k, **v} for k, v in entries.items()], ordered=False
            )
        except BulkWriteError as exc:  # quarantined before (a retry after a crash): keep that
            if any(e.get("code") != _DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise

    async def quarantined_outbox(self, limit: int = 500) -> list[QuarantinedMessage]:
        cursor = self.db[_QUARANTINE].find({}).sort([("at", 1), ("_id", 1)]).limit(limit)
        try:
            return [
                QuarantinedMessage(
                    raw["c"], raw["d"], _outbox_message(raw["message"]), raw["reason"], raw["at"]
                )
                async for raw in cursor
            ]
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _acquire_lease(self, name: str, owner: str, at: float, until: float) -> bool:
        leases = self.db[_NAMED_LEASES]
        try:
            renewed = await leases.update_one(
                {"_id": name, "$or": [{"owner": owner}, {"until": {"$lte": at}}]},
                {"$set": {"owner": owner, "until": until}},
            )
            if renewed.matched_count == 1:  # ours (renewed) or expired (taken over)
                return True
            try:
                await leases.insert_one({"_id": name, "owner": owner, "until": until})
            except DuplicateKeyError:  # another owner's live lease (or a racer's, just now)
                return False
            return True
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def release_lease(self, name: str, owner: str) -> bool:
        try:
            result = await self.db[_NAMED_LEASES].delete_one({"_id": name, "owner": owner})
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return bool(result.deleted_count == 1)


def _lease_id(collection: str, doc_id: str) -> str:
    """One key per document; the length prefix keeps it unambiguous whatever the names hold."""
    return f"{len(collection)}:{collection}:{doc_id}"


def _outbox_doc(m: OutboxMessage) -> JsonDict:
    return {
        "event_id": m.event_id,
        "topic": m.topic,
        "key": m.key,
        "value": m.value,
        # documents, not [name, value] pairs: FerretDB v1 refuses nested arrays
        "headers": [{"name": k, "value": v} for k, v in m.headers],
    }


def _stored_entry(p: PendingMessage) -> JsonDict:
    entry = _outbox_doc(p.message)
    return {**entry, "rid": p.row} if p.row else entry


def _pending(collection: str, doc_id: str, entry: JsonDict) -> PendingMessage:
    return PendingMessage(collection, doc_id, _outbox_message(entry), entry.get("rid", ""))


def _outbox_message(d: JsonDict) -> OutboxMessage:
    return OutboxMessage(
        d["event_id"],
        d["topic"],
        bytes(d["key"]),
        bytes(d["value"]),
        tuple(_header(h) for h in d.get("headers", [])),
    )


def _header(h: Any) -> tuple[str, bytes]:
    if isinstance(h, dict):
        return h["name"], bytes(h["value"])
    name, value = h  # the [name, value] pairs written before the FerretDB support
    return name, bytes(value)
