"""Daily closes from a CSV file `date,symbol,close` (one row per symbol and trading day), for the
policy backtest's extra scenario: every amount a Decimal, every row checked, and an error that
names the line and what is wrong with it rather than a guess."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

HEADER = ["date", "symbol", "close"]


class PriceFileError(ValueError):
    """The price file cannot be used as it is; the message says where and why."""


def read_closes(path: Path, symbols: Iterable[str]) -> list[dict[str, Decimal]]:
    """The closes of `symbols` per day, oldest first. Every day must price every symbol; other
    symbols in the file are ignored."""
    with path.open(newline="", encoding="utf-8") as handle:
        return parse_closes(handle.read().splitlines(), symbols, str(path))


def parse_closes(
    lines: list[str], symbols: Iterable[str], name: str = "prices"
) -> list[dict[str, Decimal]]:
    wanted = set(symbols)
    rows = list(csv.reader(lines))
    if not rows or [cell.strip().lower() for cell in rows[0]] != HEADER:
        raise PriceFileError(f"{name}: the first line must be the header 'date,symbol,close'")
    days: dict[date, dict[str, Decimal]] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{name} line {number}"
        if len(row) != 3:
            raise PriceFileError(f"{where}: expected 3 fields date,symbol,close, got {len(row)}")
        day, symbol, close = (_day(row[0], where), row[1].strip(), _close(row[2], where))
        if symbol not in wanted:
            continue
        if symbol in days.setdefault(day, {}):
            raise PriceFileError(f"{where}: a second close for {symbol} on {day}")
        days[day][symbol] = close
    if not days:
        raise PriceFileError(f"{name}: no closes for {', '.join(sorted(wanted))}")
    out = []
    for day in sorted(days):
        missing = wanted - set(days[day])
        if missing:
            raise PriceFileError(f"{name}: {day} has no close for {', '.join(sorted(missing))}")
        out.append(days[day])
    return out


def _day(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise PriceFileError(f"{where}: {text!r} is not a date YYYY-MM-DD") from None


def _close(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise PriceFileError(f"{where}: close {text!r} is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise PriceFileError(f"{where}: close {text!r} must be a positive finite number")
    return value
