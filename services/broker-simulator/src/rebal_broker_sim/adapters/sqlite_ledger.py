"""SQLite price table and account ledger (positions, cash); used inside a unit of work."""

from __future__ import annotations

from decimal import Decimal

from rebal_broker_sim.adapters.codec import decode_time, encode_time
from rebal_broker_sim.adapters.inline_sqlite import InlineConnection, Row
from rebal_broker_sim.domain.quotes import Quote
from rebal_broker_sim.service_layer.ports import AccountLedger, PriceTable


class SqlitePriceTable(PriceTable):
    def __init__(self, db: InlineConnection) -> None:
        self._db = db

    async def get(self, symbol: str) -> Quote | None:
        async with self._db.execute("SELECT * FROM prices WHERE symbol = ?", (symbol,)) as c:
            row = await c.fetchone()
        return _quote(row) if row else None

    async def put(self, quote: Quote) -> None:
        await self._db.execute(
            "INSERT INTO prices (symbol, price, tradable, fractionable, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (symbol) DO UPDATE SET price = excluded.price,"
            " tradable = excluded.tradable, fractionable = excluded.fractionable,"
            " updated_at = excluded.updated_at",
            (
                quote.symbol,
                str(quote.price),
                int(quote.tradable),
                int(quote.fractionable),
                encode_time(quote.updated_at),
            ),
        )

    async def all(self) -> list[Quote]:
        async with self._db.execute("SELECT * FROM prices ORDER BY symbol") as cursor:
            return [_quote(row) for row in await cursor.fetchall()]


def _quote(row: Row) -> Quote:
    return Quote(
        symbol=row["symbol"],
        price=Decimal(row["price"]),
        tradable=bool(row["tradable"]),
        fractionable=bool(row["fractionable"]),
        updated_at=decode_time(row["updated_at"]),
    )


class SqliteAccountLedger(AccountLedger):
    def __init__(self, db: InlineConnection) -> None:
        self._db = db

    async def position(self, account_id: str, symbol: str) -> Decimal:
        async with self._db.execute(
            "SELECT qty FROM positions WHERE account_id = ? AND symbol = ?", (account_id, symbol)
        ) as cursor:
            row = await cursor.fetchone()
        return Decimal(row[0]) if row else Decimal(0)

    async def add_to_position(self, account_id: str, symbol: str, delta: Decimal) -> Decimal:
        updated = await self.position(account_id, symbol) + delta
        await self._db.execute(
            "INSERT INTO positions (account_id, symbol, qty) VALUES (?, ?, ?)"
            " ON CONFLICT (account_id, symbol) DO UPDATE SET qty = excluded.qty",
            (account_id, symbol, str(updated)),
        )
        return updated

    async def cash(self, account_id: str) -> Decimal | None:
        async with self._db.execute(
            "SELECT amount FROM cash WHERE account_id = ?", (account_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return Decimal(row[0]) if row else None

    async def set_cash(self, account_id: str, cash: Decimal | None) -> None:
        if cash is None:
            await self._db.execute("DELETE FROM cash WHERE account_id = ?", (account_id,))
            return
        await self._db.execute(
            "INSERT INTO cash (account_id, amount) VALUES (?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET amount = excluded.amount",
            (account_id, str(cash)),
        )

    async def add_to_cash(self, account_id: str, delta: Decimal) -> None:
        current = await self.cash(account_id)
        if current is not None:
            await self.set_cash(account_id, current + delta)

    async def all_cash(self) -> dict[str, Decimal]:
        async with self._db.execute("SELECT account_id, amount FROM cash ORDER BY account_id") as c:
            return {row[0]: Decimal(row[1]) for row in await c.fetchall()}
