"""SQLite orders, trade events and request log; they run inside a `SqliteUnitOfWork`."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import orjson

from rebal_broker_sim.adapters.codec import (
    decode_decimal,
    decode_order,
    decode_time,
    encode_decimal,
    encode_order,
    encode_time,
    require_time,
)
from rebal_broker_sim.adapters.inline_sqlite import InlineConnection
from rebal_broker_sim.domain.orders import Order, OrderStatus
from rebal_broker_sim.service_layer.ports import (
    JsonObject,
    OrderRepository,
    OrderRequestRecord,
    RequestLog,
    TradeEventLog,
    TradeUpdate,
)


class SqliteOrderRepository(OrderRepository):
    def __init__(self, db: InlineConnection) -> None:
        self._db = db

    async def add(self, order: Order) -> None:
        await self._db.execute(
            "INSERT INTO orders (id, account_id, client_order_id, status, fill_due_at, body)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            _order_row(order),
        )

    async def save(self, order: Order) -> None:
        _, _, _, status, due, body = _order_row(order)
        await self._db.execute(
            "UPDATE orders SET status = ?, fill_due_at = ?, body = ? WHERE id = ?",
            (status, due, body, order.id),
        )

    async def get(self, order_id: str) -> Order | None:
        return await self._one("SELECT body FROM orders WHERE id = ?", (order_id,))

    async def by_client_order_id(self, account_id: str, client_order_id: str) -> Order | None:
        return await self._one(
            "SELECT body FROM orders WHERE account_id = ? AND client_order_id = ?",
            (account_id, client_order_id),
        )

    async def select(
        self,
        account_id: str | None = None,
        statuses: frozenset[OrderStatus] | None = None,
        limit: int | None = None,
    ) -> list[Order]:
        clauses: list[str] = []
        params: list[object] = []
        if account_id is not None:
            clauses.append("account_id = ?")
            params.append(account_id)
        if statuses is not None:
            ordered = sorted(status.value for status in statuses)
            clauses.append(f"status IN ({', '.join('?' for _ in ordered)})")
            params.extend(ordered)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        tail = " LIMIT ?" if limit is not None else ""
        if limit is not None:
            params.append(limit)
        sql = f"SELECT body FROM orders{where} ORDER BY seq{tail}"
        async with self._db.execute(sql, params) as c:
            return [decode_order(row[0]) for row in await c.fetchall()]

    async def due_for_fill(self, now: datetime) -> list[Order]:
        open_values = sorted(
            s.value for s in (OrderStatus.NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)
        )
        async with self._db.execute(
            "SELECT body FROM orders WHERE fill_due_at IS NOT NULL AND fill_due_at <= ?"
            " AND status IN (?, ?, ?) ORDER BY fill_due_at, seq",
            (encode_time(now), *open_values),
        ) as cursor:
            return [decode_order(row[0]) for row in await cursor.fetchall()]

    async def next_fill_due_after(self, now: datetime) -> datetime | None:
        async with self._db.execute(
            "SELECT MIN(fill_due_at) FROM orders WHERE fill_due_at > ?", (encode_time(now),)
        ) as cursor:
            row = await cursor.fetchone()
        return decode_time(row[0]) if row else None

    async def _one(self, sql: str, params: tuple[object, ...]) -> Order | None:
        async with self._db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return decode_order(row[0]) if row else None


def _order_row(order: Order) -> tuple[str, str, str, str, str | None, str]:
    return (
        order.id,
        order.account_id,
        order.client_order_id,
        order.status.value,
        encode_time(order.fill_due_at) if order.is_open else None,
        encode_order(order),
    )


class SqliteTradeEventLog(TradeEventLog):
    def __init__(self, db: InlineConnection) -> None:
        self._db = db

    async def append(
        self,
        at: datetime,
        account_id: str,
        event: str,
        order: JsonObject,
        qty: Decimal | None = None,
        price: Decimal | None = None,
        position_qty: Decimal | None = None,
    ) -> int:
        cursor = await self._db.execute(
            "INSERT INTO trade_events (at, account_id, event, order_json, qty, price, position_qty)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                encode_time(at),
                account_id,
                event,
                # In the view's key order: the stream then sends the order as the answer did.
                orjson.dumps(order).decode(),
                encode_decimal(qty),
                encode_decimal(price),
                encode_decimal(position_qty),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def after(
        self,
        since_id: int,
        until_id: int | None = None,
        account_id: str | None = None,
        limit: int = 500,
    ) -> list[TradeUpdate]:
        sql = "SELECT * FROM trade_events WHERE event_id > ?"
        params: list[object] = [since_id]
        if until_id is not None:
            sql += " AND event_id <= ?"
            params.append(until_id)
        if account_id is not None:
            sql += " AND account_id = ?"
            params.append(account_id)
        sql += " ORDER BY event_id LIMIT ?"
        params.append(limit)
        async with self._db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return [
            TradeUpdate(
                event_id=row["event_id"],
                at=require_time(row["at"]),
                account_id=row["account_id"],
                event=row["event"],
                order=orjson.loads(row["order_json"]),
                qty=decode_decimal(row["qty"]),
                price=decode_decimal(row["price"]),
                position_qty=decode_decimal(row["position_qty"]),
            )
            for row in rows
        ]

    async def last_id(self) -> int:
        async with self._db.execute("SELECT MAX(event_id) FROM trade_events") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0


class SqliteRequestLog(RequestLog):
    def __init__(self, db: InlineConnection) -> None:
        self._db = db

    async def record(
        self,
        received_at: datetime,
        account_id: str,
        client_order_id: str | None,
        symbol: str | None,
        outcome: str,
        http_status: int,
        order_id: str | None = None,
    ) -> int:
        cursor = await self._db.execute(
            "INSERT INTO order_requests (received_at, account_id, client_order_id, symbol,"
            " outcome, http_status, order_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                encode_time(received_at),
                account_id,
                client_order_id,
                symbol,
                outcome,
                http_status,
                order_id,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def all(self) -> list[OrderRequestRecord]:
        async with self._db.execute("SELECT * FROM order_requests ORDER BY seq") as cursor:
            rows = await cursor.fetchall()
        return [
            OrderRequestRecord(
                seq=row["seq"],
                received_at=require_time(row["received_at"]),
                account_id=row["account_id"],
                client_order_id=row["client_order_id"],
                symbol=row["symbol"],
                outcome=row["outcome"],
                http_status=row["http_status"],
                order_id=row["order_id"],
            )
            for row in rows
        ]
