"""Rebalancing policies side by side over a year of daily closes, on the optimizer's production
rules: Alpaca-style (a breach rebalances to target) against band-edge (`rebalance_to: band_edge`),
band-edge with a 50 % margin, band-edge with the cost gate, and cash-flow-only, same paths, same
run, every policy paying the same costs. The backtest itself is the optimizer's
(`rebal_optimizer/backtest/`, `rebal backtest` from the CLI); this runs it with the same options.

Prints a table per scenario (turnover, orders, rebalances, mean and max drift, tracking error,
cost, notional below the minimum carried / lost, realized short- and long-term gains) and the
ratios to Alpaca-style; writes a chart per scenario (drift over time per policy, turnover bars)
to `bench-output/`. `--prices FILE` adds a scenario of real daily closes (CSV
`date,symbol,close` with SPY and TLT).

    .venv/bin/python bench/policies/run.py [--days 252] [--seeds 7,11,23] [--prices FILE]
        [--initial 100000] [--deposit 1000] [--out bench-output]
"""

from __future__ import annotations

import sys

from rebal_optimizer.entrypoints.backtest import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
