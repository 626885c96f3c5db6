"""The policy backtest (rebal_optimizer/backtest/) on short seeded paths: what the policies trade,
what their sales realize, and how its entrypoint reports a bad price file or a missing extra."""

from __future__ import annotations

import importlib.util
import io
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from rebal_optimizer.backtest.engine import Ledger
from rebal_optimizer.backtest.lot_policies import run_lot_policies
from rebal_optimizer.backtest.paths import closes
from rebal_optimizer.backtest.policies import BASE, DEPOSIT, INITIAL, run_policies
from rebal_optimizer.backtest.report import print_policies
from rebal_optimizer.backtest.tables import POLICY_COLUMNS, policy_summary, policy_table, usd
from rebal_optimizer.domain.tax_policy import LotPolicy
from rebal_optimizer.entrypoints.backtest import main

DAYS = 60
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def crash() -> list[dict[str, Decimal]]:
    """Seed 7's crash path: stocks fall from day 40, so both rebalancing policies trade."""
    return closes(DAYS, 7, crash=True)


@pytest.fixture(scope="module")
def crash_ledgers(crash: list[dict[str, Decimal]]) -> dict[str, Ledger]:
    return run_policies(crash, INITIAL, DEPOSIT)


def row_of(table: Table, policy: str) -> list[str]:
    """The cells of `policy`'s row, as the rendered table shows them."""
    console = Console(width=250, record=True, file=io.StringIO())
    console.print(table)
    line = next(text for text in console.export_text().splitlines() if f" {policy} │" in text)
    return [cell.strip() for cell in line.split("│")[1:-1]]


def test_band_edge_trades_less_than_alpaca_style_on_a_seeded_crash(
    crash_ledgers: dict[str, Ledger],
) -> None:
    alpaca, edge = crash_ledgers[BASE], crash_ledgers["band-edge"]
    assert alpaca.rebalances > 0  # the crash breaches the bands: there is something to compare
    assert edge.turnover < alpaca.turnover


def test_realized_and_unrealized_gains_add_up_to_what_the_book_gained(
    crash_ledgers: dict[str, Ledger],
) -> None:
    """From cash on day 0, what the book gained over its deposits is what its sales realized plus
    what its open lots would: to a cent a day (order notionals and gains are rounded to cents)."""
    assert crash_ledgers[BASE].sales > 0
    for ledger in crash_ledgers.values():
        gained = ledger.values[-1] - sum(ledger.flows, Decimal(0))
        booked = ledger.realized.total + ledger.unrealized
        assert abs(gained - booked) <= CENT * DAYS


def test_the_lot_comparisons_books_add_up_too() -> None:
    for policy, ledger in run_lot_policies(closes(DAYS, 5, crash=False), seasoned=False).items():
        gained = ledger.values[-1] - sum(ledger.flows, Decimal(0))
        assert ledger.sales > 0, policy
        assert abs(gained - ledger.realized.total - ledger.unrealized) <= CENT * DAYS, policy


def test_every_withdrawal_is_paid_out_whether_or_not_a_run_had_to_raise_it() -> None:
    # 60 days: a payout on days 12, 33 and 54; the cash may cover one (no run needed) or not
    ledger = run_lot_policies(closes(DAYS, 5, crash=False), seasoned=False)[LotPolicy.FIFO]
    paid = [-flow for flow in ledger.flows if flow < 0]
    assert paid == [Decimal(4000)] * 3


def test_a_seasoned_book_realizes_long_term_gains_and_a_fresh_one_only_short_term() -> None:
    days = closes(DAYS, 5, crash=False)
    fresh = run_lot_policies(days, seasoned=False)[LotPolicy.FIFO].realized
    seasoned = run_lot_policies(days, seasoned=True)[LotPolicy.FIFO].realized
    assert fresh.long_term == 0
    assert fresh.short_term != 0
    assert seasoned.long_term > 0  # fifo sells the two-year-old lots first


def test_the_policy_table_shows_each_policys_realized_gains(
    crash: list[dict[str, Decimal]], crash_ledgers: dict[str, Ledger]
) -> None:
    table = policy_table("crash", crash_ledgers, crash)
    short, long = POLICY_COLUMNS.index("short-term $"), POLICY_COLUMNS.index("long-term $")
    for policy, ledger in crash_ledgers.items():
        row = row_of(table, policy)
        assert row[short] == usd(ledger.realized.short_term)
        assert row[long] == usd(ledger.realized.long_term)
    assert row_of(table, BASE)[short] != "0"


def test_a_bad_row_in_the_price_file_is_reported_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "closes.csv"
    prices.write_text("date,symbol,close\n2026-01-05,SPY,500\n2026-01-05,TLT,ninety\n")
    assert main(["--days", "5", "--prices", str(prices), "--out", str(tmp_path)]) == 2
    assert "closes.csv line 3: close 'ninety' is not a decimal number" in capsys.readouterr().err


def test_real_closes_are_one_more_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = ["date,symbol,close"]
    for day, close in enumerate(closes(5, 3, crash=False), start=5):
        rows += [f"2026-01-{day:02d},{symbol},{price}" for symbol, price in close.items()]
    prices = tmp_path / "real.csv"
    prices.write_text("\n".join(rows))
    assert (
        main(["--days", "5", "--seeds", "7", "--prices", str(prices), "--out", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    assert "real: 5 trading days" in out
    assert (tmp_path / "policies-real.png").is_file()


def test_without_matplotlib_the_chart_is_skipped_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    print_policies({"short": closes(5, 7, crash=False)}, INITIAL, DEPOSIT, tmp_path)
    out = capsys.readouterr().out
    assert "chart: skipped, matplotlib is not installed" in out
    assert "rebal-optimizer[backtest]" in out
    assert "short: 5 trading days" in out  # the table is still printed
    assert not list(tmp_path.iterdir())


def test_without_rich_it_exits_2_naming_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "rich" else find_spec(name)
    )
    assert main(["--days", "5"]) == 2
    assert "rebal-optimizer[backtest]" in capsys.readouterr().err


def test_the_lot_comparison_prints_its_tables_and_the_crash_verdicts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--lots", "--days", str(DAYS), "--seeds", "7"]) == 0
    out = capsys.readouterr().out
    assert "normal-7, seasoned: lot policies" in out
    assert "tax_min / fifo short-term gain:" in out
    assert "target on crash, fresh: tax_min >= 30 % less realized short-term gain" in out
    assert "target on crash, seasoned:" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--lots", "--initial", "5000"],
        ["--days", "1"],
        ["--seeds", "7,x"],
        ["--deposit", "-5"],
    ],
)
def test_options_it_cannot_use_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


def test_the_summary_judges_band_edge_by_its_largest_drift_against_the_band() -> None:
    def ledger(*drift: float) -> Ledger:
        return Ledger(turnover=Decimal(1), cost=Decimal(1), drift=[0.0, *drift])

    inside = policy_summary([{BASE: ledger(4.4), "band-edge": ledger(2.0, 4.9)}])
    assert any(line.endswith("band-edge inside the band (target): met") for line in inside)
    past = policy_summary(
        [
            {BASE: ledger(4.4), "band-edge": ledger(1.0)},
            {BASE: ledger(3.0), "band-edge": ledger(5.4)},
        ]
    )
    assert any("band-edge 5.40" in line and line.endswith("NOT met") for line in past)
