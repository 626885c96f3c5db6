"""`/v1/portfolios` reads: the portfolio's book and block, its optimizations with their decision
record, its transactions with InvestSuite statuses, from what rebal's services publish."""

from __future__ import annotations

from datetime import timedelta

from rebal_schemas import (
    ConditionEvaluation,
    OptimizationStatus,
    OptimizationStatusChanged,
    PortfolioSettingsChanged,
    Reason,
    RunSettled,
    RunStatus,
    SettledTransaction,
    TransactionStatus,
)

from . import rebal_events as rebal
from .conftest import START, Harness

BASE = "/v1/portfolios"
PID, ACCT = "pf-7", "acct-7"


async def known(harness: Harness) -> None:
    await harness.consume(PortfolioSettingsChanged(portfolio_id=PID, account_id=ACCT))
    await harness.http.patch(f"{BASE}/{PID}", json={"holdings": [], "cash": "1000.00"})


async def test_a_run_blocks_the_portfolio_until_it_settles(harness: Harness) -> None:
    await known(harness)
    await harness.consume(
        rebal.created("ORUN", PID, ACCT, START), rebal.ready("ORUN", PID, ACCT, START)
    )
    book = (await harness.http.get(f"{BASE}/{PID}")).json()
    assert book["blocked"] is True and book["last_optimization_id"] == "ORUN"
    assert book["blocking_run"]["run_id"] == "ORUN"
    assert book["blocking_run"]["run_type"] == "invest_cash"
    assert book["blocking_run"]["status"] == "QUEUED"
    await harness.consume(rebal.completed("ORUN", PID, ACCT, START))
    book = (await harness.http.get(f"{BASE}/{PID}")).json()
    assert book["cash"] == "400.00" and book["holdings"] == [{"symbol": "SPY", "quantity": "1.2"}]
    assert book["blocked"] is True and book["blocking_run"]["status"] == "COMPLETED_SUCCESS"
    settled = rebal.settled("ORUN", PID, ACCT, START + timedelta(days=1))
    await harness.consume(settled, settled)
    book = (await harness.http.get(f"{BASE}/{PID}")).json()
    assert book["blocked"] is False and book["blocking_run"] is None
    assert book["cash"] == "400.00"  # the run's trades count once


async def test_a_late_ready_after_settlement_does_not_block(harness: Harness) -> None:
    await known(harness)
    await harness.consume(
        rebal.settled("OLATE", PID, ACCT, START), rebal.ready("OLATE", PID, ACCT, START)
    )
    assert (await harness.http.get(f"{BASE}/{PID}")).json()["blocked"] is False


async def test_optimizations_newest_first_with_their_decision_record(harness: Harness) -> None:
    await known(harness)
    quiet = rebal.created(
        "O1", PID, ACCT, START, status=OptimizationStatus.NOT_RECOMMENDED
    ).model_copy(
        update={
            "reasons": (Reason(code="IN_BAND", detail="drift 1.2 pp within 5 pp"),),
            "decision": (
                ConditionEvaluation(name="drift_band", met=False, value="1.2", threshold="5"),
            ),
        }
    )
    waiting = rebal.created(
        "O2", PID, ACCT, START + timedelta(hours=1), status=OptimizationStatus.AWAITING_OWNER
    )
    await harness.consume(quiet, waiting)
    latest = (await harness.http.get(f"{BASE}/{PID}/optimizations/latest")).json()
    assert latest["id"] == "O2" and latest["status"] == "AWAITING_OWNER"
    first = (await harness.http.get(f"{BASE}/{PID}/optimizations", params={"limit": 1})).json()
    assert [o["id"] for o in first["optimizations"]] == ["O2"]
    token = first["next_page_token"]
    second = (
        await harness.http.get(
            f"{BASE}/{PID}/optimizations", params={"limit": 1, "page_token": token}
        )
    ).json()
    [old] = second["optimizations"]
    assert second["next_page_token"] is None and old["id"] == "O1"
    assert old["is_recommended"] is False
    assert old["reasons"] == [{"code": "IN_BAND", "detail": "drift 1.2 pp within 5 pp"}]
    assert old["decision"] == [
        {"name": "drift_band", "met": False, "value": "1.2", "threshold": "5", "detail": ""}
    ]
    await harness.consume(
        OptimizationStatusChanged(
            optimization_id="O2",
            portfolio_id=PID,
            status=OptimizationStatus.REJECTED,
            owner_choice="REJECT",
            producer="optimizer",
            occurred_at=START + timedelta(hours=2),
        )
    )
    latest = (await harness.http.get(f"{BASE}/{PID}/optimizations/latest")).json()
    assert latest["status"] == "REJECTED" and latest["owner_choice"] == "REJECT"


async def test_transactions_planned_executed_settled(harness: Harness) -> None:
    await known(harness)
    await harness.consume(rebal.ready("ORUN", PID, ACCT, START))
    [planned] = (await harness.http.get(f"{BASE}/{PID}/transactions")).json()["transactions"]
    assert planned["status"] == "PLANNED" and planned["notional"] == "600.00"
    assert planned["id"] == "ORUN-0" and planned["order_status"] is None
    # the settlement of the leg may come before the run's completion (another topic)
    await harness.consume(
        rebal.leg_settled("ORUN", PID, START, days=1),
        rebal.completed("ORUN", PID, ACCT, START),
    )
    [row] = (await harness.http.get(f"{BASE}/{PID}/transactions")).json()["transactions"]
    assert row["status"] == "SETTLED" and row["order_status"] == "filled"
    assert row["filled_qty"] == "1.2" and row["settlement_date"] == "2026-03-03"
    assert row["run_status"] == "COMPLETED_SUCCESS"
    [run] = (await harness.http.get("/v1/rebalancing/runs")).json()["runs"]
    assert run["orders"][0]["transaction_status"] == "SETTLED"  # Alpaca's view agrees


async def test_run_settled_gives_each_legs_final_status(harness: Harness) -> None:
    await known(harness)
    await harness.consume(rebal.ready("OCAN", PID, ACCT, START))
    await harness.consume(
        RunSettled(
            run_id="OCAN",
            optimization_id="OCAN",
            portfolio_id=PID,
            account_id=ACCT,
            status=RunStatus.CANCELED,
            transactions=(
                SettledTransaction(
                    leg=0,
                    symbol="SPY",
                    side="buy",
                    filled_qty="0",
                    status=TransactionStatus.CANCELLED,
                ),
            ),
            settled_at=START,
            producer="settlement-tracker",
        )
    )
    [row] = (await harness.http.get(f"{BASE}/{PID}/transactions")).json()["transactions"]
    assert row["status"] == "CANCELLED"


async def test_unknown_portfolio_is_404(harness: Harness) -> None:
    for path in ("", "/optimizations", "/optimizations/latest", "/transactions"):
        answer = await harness.http.get(f"{BASE}/nobody{path}")
        assert answer.status_code == 404 and answer.json()["code"] == 40410000, path
    await known(harness)
    none_yet = await harness.http.get(f"{BASE}/{PID}/optimizations/latest")
    assert none_yet.status_code == 404 and "no optimization" in none_yet.json()["message"]
