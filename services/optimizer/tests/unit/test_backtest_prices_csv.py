"""The policy backtest's price file (`rebal_optimizer/backtest/prices_csv.py`): good rows become
Decimal closes per day, oldest first; every bad row is refused with its line and the reason."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from rebal_optimizer.backtest.prices_csv import PriceFileError, parse_closes, read_closes

GOOD = ["date,symbol,close", "2026-01-06,SPY,501.25", "2026-01-05,TLT,90", "2026-01-05,SPY,500"]


def test_good_rows_become_decimal_closes_per_day_oldest_first(tmp_path: Path) -> None:
    rows = [*GOOD, "2026-01-06,TLT,90.5", "2026-01-06,QQQ,1", ""]
    file = tmp_path / "closes.csv"
    file.write_text("\n".join(rows))
    closes = read_closes(file, ["SPY", "TLT"])
    assert closes == [
        {"SPY": Decimal("500"), "TLT": Decimal("90")},
        {"SPY": Decimal("501.25"), "TLT": Decimal("90.5")},
    ]
    assert all(isinstance(v, Decimal) for day in closes for v in day.values())


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["day,ticker,price", "2026-01-05,SPY,1"], "header"),
        ([], "header"),
        (["date,symbol,close", "2026-01-05,SPY"], "line 2: expected 3 fields"),
        (["date,symbol,close", "05/01/2026,SPY,1"], "line 2: '05/01/2026' is not a date"),
        (["date,symbol,close", "2026-01-05,SPY,abc"], "line 2: close 'abc' is not a decimal"),
        (["date,symbol,close", "2026-01-05,SPY,-3"], "must be a positive"),
        (["date,symbol,close", "2026-01-05,SPY,NaN"], "must be a positive finite"),
        (["date,symbol,close", "2026-01-05,SPY,0"], "must be a positive"),
        (["date,symbol,close", "2026-01-05,SPY,1", "2026-01-05,SPY,2"], "line 3: a second close"),
        (["date,symbol,close", "2026-01-05,SPY,1"], "2026-01-05 has no close for TLT"),
        (["date,symbol,close", "2026-01-05,QQQ,1"], "no closes for SPY, TLT"),
    ],
)
def test_bad_rows_are_refused_with_the_line_and_the_reason(rows: list[str], message: str) -> None:
    with pytest.raises(PriceFileError, match=message):
        parse_closes(rows, ["SPY", "TLT"])
