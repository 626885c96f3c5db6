"""`python -m rebal_optimizer.entrypoints.backtest`: the policy backtest on the optimizer's
production rules (rebal_optimizer/backtest/), with no broker and no store. `rebal backtest`
runs it from the CLI; `bench/policies/run.py` and `bench/policies/lots.py` wrap it.

    python -m rebal_optimizer.entrypoints.backtest [--days 252] [--seeds 7,11,23]
        [--prices FILE] [--initial 100000] [--deposit 1000] [--out bench-output]
    python -m rebal_optimizer.entrypoints.backtest --lots [--days 252] [--seeds 7,11,23]
        [--prices FILE]

Rebalancing policies side by side (a table per scenario with their realized short- and
long-term gains, a chart per scenario in --out, the ratios to Alpaca-style), or with --lots the
lot policies fifo / hifo / tax_min. Exits 2 on a bad option or price file, naming what is wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from rebal_optimizer.backtest.paths import scenarios
from rebal_optimizer.backtest.policies import DEPOSIT, INITIAL
from rebal_optimizer.backtest.prices_csv import PriceFileError

EXTRA = "pip install 'rebal-optimizer[backtest]'"
POLICY_ONLY = ("initial", "deposit", "out")  # the lot comparison has flows of its own


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 2:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of trading days, at least 2")
    return int(text)


def _seeds(text: str) -> list[int]:
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r}: whole numbers separated by commas")
    return [int(part) for part in parts]


def _usd(text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: an amount of USD, 0 or more")
    return amount


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rebal_optimizer.entrypoints.backtest",
        description="The policy backtest on the optimizer's production rules: rebalancing "
        "policies side by side (a table and a chart per scenario), or with --lots the lot "
        "policies fifo / hifo / tax_min.",
    )
    p.add_argument(
        "--days", type=_days, default=252, metavar="N", help="trading days per path (252)"
    )
    p.add_argument(
        "--seeds",
        type=_seeds,
        default=[7, 11, 23],
        metavar="7,11,23",
        help="a normal path per seed (and the crash on the first)",
    )
    p.add_argument(
        "--prices",
        type=Path,
        metavar="FILE",
        help="CSV date,symbol,close of SPY and TLT: a scenario",
    )
    p.add_argument("--lots", action="store_true", help="the lot policies instead of rebalancing")
    p.add_argument("--initial", type=_usd, metavar="USD", help=f"first funding ({INITIAL})")
    p.add_argument("--deposit", type=_usd, metavar="USD", help=f"every 21 trading days ({DEPOSIT})")
    p.add_argument("--out", type=Path, metavar="DIR", help="where the charts go (bench-output)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    given = [f"--{name}" for name in POLICY_ONLY if getattr(args, name) is not None]
    if args.lots and given:
        p.error(f"{', '.join(given)}: for the policy table, not --lots")
    if importlib.util.find_spec("rich") is None:
        print(f"backtest: its tables need rich: {EXTRA}", file=sys.stderr)
        return 2
    # rich is the `backtest` extra's (the service image has no use for it): imported once known
    from rebal_optimizer.backtest.report import print_lot_policies, print_policies

    try:
        paths = scenarios(args.days, args.seeds, args.prices)
    except (OSError, PriceFileError) as error:
        print(f"--prices: {error}", file=sys.stderr)
        return 2
    if args.lots:
        print_lot_policies(paths)
    else:
        out = args.out if args.out is not None else Path("bench-output")
        initial = args.initial if args.initial is not None else INITIAL
        deposit = args.deposit if args.deposit is not None else DEPOSIT
        print_policies(paths, initial, deposit, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
