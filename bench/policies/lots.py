"""Lot policies side by side (`lot_policy`: fifo / hifo / tax_min) over a year of daily closes, on
the optimizer's production rules, same paths as `bench/policies/run.py`, same Alpaca-style
rebalancing to target; only the lot policy differs. The optimizer's backtest with `--lots`
(`rebal_optimizer/backtest/lot_policies.py` says the starts and the flows).

Prints per scenario and start (`fresh`: cash on day 0; `seasoned`: eight quarterly lots bought
over the two years before): realized short- and long-term gain per policy, the unrealized gain
left at the end (tax_min defers gains, it does not make them disappear), the number of lots, and
the ratio of tax_min's short-term gain to fifo's; then whether the target (tax_min at least 30 %
less realized short-term gain than fifo on the crash scenario) is met.

    .venv/bin/python bench/policies/lots.py [--days 252] [--seeds 7,11,23]
"""

from __future__ import annotations

import sys

from rebal_optimizer.entrypoints.backtest import main

if __name__ == "__main__":
    sys.exit(main(["--lots", *sys.argv[1:]]))
