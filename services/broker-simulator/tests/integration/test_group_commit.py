"""Group commit of the SQLite store: units queued together share one COMMIT, each stays atomic."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

from rebal_broker_sim.adapters import inline_sqlite
from rebal_broker_sim.bootstrap import Simulator, bootstrap
from rebal_broker_sim.domain.orders import OrderRequest, Side
from rebal_broker_sim.service_layer.errors import DuplicateClientOrderId


def _simulator(db: Path) -> Simulator:
    ids = (f"order-{n}" for n in itertools.count(1))
    return bootstrap(db, new_order_id=lambda: next(ids))


def _buy(coid: str) -> OrderRequest:
    return OrderRequest("acct-1", coid, "AAPL", Side.BUY, Decimal("1"), None)


def _count_commits(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    commits = [0]
    original = inline_sqlite.InlineConnection.commit_now

    def counting(self: inline_sqlite.InlineConnection) -> None:
        commits[0] += 1
        original(self)

    monkeypatch.setattr(inline_sqlite.InlineConnection, "commit_now", counting)
    return commits


async def test_concurrent_submits_share_one_commit_and_all_survive_a_reopen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sim.sqlite"
    simulator = _simulator(db)
    await simulator.store.open()
    await simulator.price_book.set_price("AAPL", Decimal("10"))
    commits = _count_commits(monkeypatch)
    results = await asyncio.gather(
        *(simulator.orders.submit_order(_buy(f"c-{n}")) for n in range(8))
    )
    assert commits[0] == 1
    assert not simulator.store.connection.in_transaction  # every answer came after the COMMIT
    await simulator.store.close()

    reopened = _simulator(db)
    await reopened.store.open()
    for result in results:
        stored = await reopened.orders.get_order("acct-1", result.order.id)
        assert stored.status == result.order.status
    updates = await reopened.queries.trade_updates_after(0)
    assert [u.event for u in updates].count("fill") == 8
    await reopened.store.close()


async def test_a_failing_unit_in_a_group_undoes_only_itself(tmp_path: Path) -> None:
    db = tmp_path / "sim.sqlite"
    simulator = _simulator(db)
    await simulator.store.open()
    await simulator.price_book.set_price("AAPL", Decimal("10"))

    async def failing() -> None:
        async with simulator.store.unit_of_work() as uow:
            await uow.accounts.set_cash("acct-9", Decimal("5"))
            raise RuntimeError("boom")

    outcomes = await asyncio.gather(
        simulator.orders.submit_order(_buy("c-1")),
        failing(),
        simulator.orders.submit_order(_buy("c-2")),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], RuntimeError)
    await simulator.store.close()

    reopened = _simulator(db)
    await reopened.store.open()
    snapshot = await reopened.queries.admin_snapshot()
    assert sorted(o.client_order_id for o in snapshot.orders) == ["c-1", "c-2"]
    assert "acct-9" not in snapshot.cash
    await reopened.store.close()


async def test_a_duplicate_in_the_same_group_is_refused(tmp_path: Path) -> None:
    simulator = _simulator(tmp_path / "sim.sqlite")
    await simulator.store.open()
    await simulator.price_book.set_price("AAPL", Decimal("10"))
    outcomes = await asyncio.gather(
        simulator.orders.submit_order(_buy("same")),
        simulator.orders.submit_order(_buy("same")),
        return_exceptions=True,
    )
    assert sum(isinstance(o, DuplicateClientOrderId) for o in outcomes) == 1
    await simulator.store.close()


async def test_a_reader_in_a_group_returns_only_after_its_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator = _simulator(tmp_path / "sim.sqlite")
    await simulator.store.open()
    await simulator.price_book.set_price("AAPL", Decimal("10"))
    commits = _count_commits(monkeypatch)

    async def read() -> int:
        assert simulator.store.group is not None  # the submit's transaction is still open
        updates = await simulator.queries.trade_updates_after(0)
        assert commits[0] == 1  # what it read is committed before it sees it
        return len(updates)

    _, seen = await asyncio.gather(simulator.orders.submit_order(_buy("c-1")), read())
    assert seen == 2  # the order's new and fill updates
    await simulator.store.close()
