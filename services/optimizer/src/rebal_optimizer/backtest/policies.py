"""Rebalancing policies side by side on the same path: Alpaca-style (a breach rebalances to
target) against band-edge (`rebalance_to: band_edge`: the same breach trades only what breached,
to just inside its band, orders below the minimum carried forward), band-edge with a 50 % margin,
band-edge with the cost gate (`cost_gate_threshold`), and cash-flow-only (deposits buy what is
under target, never a drift rebalance). Every policy pays the same costs (1 USD per order, half
a spread of 1 bp SPY / 2 bp TLT); only the cost-gate policy acts on them.

The portfolio starts with 100,000 and gets 1,000 every 21 trading days (`--initial`,
`--deposit` change the amounts).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from rebal_optimizer.backtest.engine import Ledger, Schedule, fresh_account, simulate
from rebal_optimizer.backtest.paths import MODEL, Closes
from rebal_optimizer.domain import PortfolioSettings, RebalanceTo

COST_GATE_THRESHOLD = Decimal("0.01")  # trading may cost at most 1 % of the USD put back
INITIAL, DEPOSIT, DEPOSIT_EVERY = Decimal(100_000), Decimal(1000), 21
BASE = "alpaca (to target)"
COSTS = PortfolioSettings(
    model_id=MODEL.model_id,
    commission_per_order=Decimal(1),
    spread_bps=Decimal(5),
    spread_bps_by_symbol=(("SPY", Decimal(1)), ("TLT", Decimal(2))),
)
CARRY = replace(COSTS, carry_forward_skipped=True)
EDGE = replace(CARRY, rebalance_to=RebalanceTo.BAND_EDGE)
POLICIES = {
    BASE: COSTS,
    "band-edge": EDGE,
    "band-edge, 50 % margin": replace(EDGE, band_edge_margin_percent=Decimal(50)),
    "band-edge + cost gate": replace(EDGE, cost_gate_threshold=COST_GATE_THRESHOLD),
    # Betterment-style: deposits buy what is under target; no drift or calendar rebalance ever
    # (own weights without conditions), beyond the first funding
    "cash-flow-only": replace(CARRY, model_id=None, own_weights=MODEL.weights),
}


def run_policies(days: Closes, initial: Decimal, deposit: Decimal) -> dict[str, Ledger]:
    """Every policy through the same closes and cash flows, BASE first."""
    schedule = Schedule(initial, deposit, DEPOSIT_EVERY)
    return {
        policy: simulate(fresh_account(settings), MODEL, days, schedule)
        for policy, settings in POLICIES.items()
    }
