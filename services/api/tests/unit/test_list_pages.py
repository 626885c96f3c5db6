"""An account's runs and a portfolio's transactions are read a page at a time from the runs'
listing (one indexed query in sort order, then only the page's runs loaded), and a store
listed before those index values existed is brought up to them once, on start."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from rebal_api.adapters.documents import listing_backfill
from rebal_api.adapters.run_listing import MARKER, RUN_LIST, RunListing, backfill
from rebal_api.domain.views import RunRequest, RunView
from rebal_runtime.store import Commit, Document
from rebal_schemas import OrderSide, PlannedOrder, PortfolioSettingsChanged

from . import rebal_events as rebal
from .conftest import ACCOUNT, OTHER_ACCOUNT, START, Harness

RUNS = "/v1/rebalancing/runs"
PID, ACCT = "pf-7", "acct-7"


def spy_on_run_loads(harness: Harness) -> list[int]:
    """How many run documents each `load_many` of the runs asked for, from now on."""
    asked: list[int] = []
    load_many = harness.store.load_many

    async def counted(collection: str, ids: Sequence[str]) -> dict[str, Document]:
        if collection == "runs":
            asked.append(len(ids))
        return await load_many(collection, ids)

    harness.store.load_many = counted  # type: ignore[method-assign]
    return asked


async def pages(harness: Harness, path: str, key: str, **params: Any) -> list[list[str]]:
    """Every page's item ids, following `next_page_token`."""
    found, token = [], None
    while True:
        query = {**params, **({"page_token": token} if token else {})}
        page = (await harness.http.get(path, params=query)).json()
        found.append([item.get("rebal_run_id") or item["id"] for item in page[key]])
        if (token := page["next_page_token"]) is None:
            return found


async def account_runs(harness: Harness) -> None:
    """7 completed runs of ACCOUNT (R0 oldest), interleaved with 3 of OTHER_ACCOUNT."""
    for i in range(10):
        account = OTHER_ACCOUNT if i % 3 == 2 else ACCOUNT
        at = START + timedelta(minutes=i)
        await harness.consume(
            rebal.ready(f"R{i}", account, account, at),
            rebal.completed(f"R{i}", account, account, at),
        )


async def test_an_accounts_runs_are_read_a_page_at_a_time(harness: Harness) -> None:
    await account_runs(harness)
    asked = spy_on_run_loads(harness)
    found = await pages(harness, RUNS, "runs", account_id=ACCOUNT, limit=3)
    assert found == [["R9", "R7", "R6"], ["R4", "R3", "R1"], ["R0"]]
    assert max(asked) <= 3  # the page's runs, never the account's all
    only_other = await pages(harness, RUNS, "runs", account_id=OTHER_ACCOUNT)
    assert only_other == [["R8", "R5", "R2"]]
    errors = await pages(harness, RUNS, "runs", account_id=ACCOUNT, status="ERROR")
    assert errors == [[]]


async def test_transactions_are_read_a_page_of_runs_at_a_time(harness: Harness) -> None:
    await harness.consume(PortfolioSettingsChanged(portfolio_id=PID, account_id=ACCT))
    for i in range(6):
        at = START + timedelta(minutes=i)
        ready = rebal.ready(f"T{i}", PID, ACCT, at)
        if i == 4:  # three legs: a page may end inside a run
            legs = tuple(
                PlannedOrder(leg=leg, symbol=s, side=OrderSide.buy, notional=Decimal("100.00"))
                for leg, s in enumerate(("SPY", "TLT", "GLD"))
            )
            ready = ready.model_copy(update={"orders": legs})
        await harness.consume(ready)
    await harness.consume(rebal.ready("ELSEWHERE", "pf-8", "acct-8", START))
    # T1's created_at moves earlier (an earlier event of the run seen late): listed once, oldest
    await harness.consume(rebal.queued("T1", PID, ACCT, START - timedelta(minutes=9)))
    asked = spy_on_run_loads(harness)
    found = await pages(harness, f"/v1/portfolios/{PID}/transactions", "transactions", limit=2)
    assert found == [
        ["T5-0", "T4-0"],
        ["T4-1", "T4-2"],
        ["T3-0", "T2-0"],
        ["T0-0", "T1-0"],
    ]
    assert max(asked) <= 3  # limit + 1 runs a query, never the portfolio's all
    bad = await harness.http.get(
        f"/v1/portfolios/{PID}/transactions",
        params={"page_token": "WyJ4Il0"},  # ["x"]
    )
    assert bad.status_code == 400


async def test_a_listing_written_before_its_account_and_portfolio_values_is_backfilled(
    harness: Harness,
) -> None:
    await account_runs(harness)
    await harness.consume(PortfolioSettingsChanged(portfolio_id=PID, account_id=ACCT))
    await harness.consume(rebal.ready("TX", PID, ACCT, START))
    transactions = f"/v1/portfolios/{PID}/transactions"
    # as an older api wrote it: no account_type, account_type_status, portfolio values
    for listing_id in await harness.store.scan(RUN_LIST):
        doc = await harness.store.load(RUN_LIST, listing_id)
        assert doc is not None
        old = {"account_type": None, "account_type_status": None, "portfolio": None}
        await harness.store.commit(Commit(RUN_LIST, listing_id, doc.version, doc.state, index=old))
    assert await pages(harness, RUNS, "runs", account_id=ACCOUNT) == [[]]
    assert await pages(harness, transactions, "transactions") == [[]]
    await listing_backfill(harness.store)()
    assert await pages(harness, RUNS, "runs", account_id=ACCOUNT) == [
        ["R9", "R7", "R6", "R4", "R3", "R1", "R0"]
    ]
    assert await pages(harness, transactions, "transactions") == [["TX-0"]]
    assert (await harness.store.load(RUN_LIST, MARKER)) is not None
    listings = [
        RunListing(harness.store, "runs", RunView),
        RunListing(harness.store, "run_requests", RunRequest),
    ]
    assert await backfill(harness.store, listings) == 0  # once only
