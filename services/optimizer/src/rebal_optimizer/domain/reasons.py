"""Machine-readable reasons attached to optimizations (InvestSuite `reasons`, Alpaca `reason`)."""

from __future__ import annotations

from dataclasses import dataclass

PRICE_MISSING = "PRICE_MISSING"
PRICE_STALE = "PRICE_STALE"
PRICE_INVALID = "PRICE_INVALID"
ASSET_NOT_TRADABLE = "ASSET_NOT_TRADABLE"
NOTHING_TO_TRADE = "NOTHING_TO_TRADE"
NO_PORTFOLIO_VALUE = "NO_PORTFOLIO_VALUE"
WITHDRAWAL_SHORTFALL = "WITHDRAWAL_SHORTFALL"
ORDER_LESS_THAN_MIN_NOTIONAL = "ORDER_LESS_THAN_MIN_NOTIONAL"
EXTERNAL_INVALID_QUANTITY = "EXTERNAL_INVALID_QUANTITY"
EXTERNAL_SELL_EXCEEDS_HOLDING = "EXTERNAL_SELL_EXCEEDS_HOLDING"
EXTERNAL_BUY_EXCEEDS_CASH = "EXTERNAL_BUY_EXCEEDS_CASH"
ORDER_OUT_OF_BOUNDS = "ORDER_OUT_OF_BOUNDS"  # a quantity or amount the wire cannot carry
ARITHMETIC_ERROR = "ARITHMETIC_ERROR"  # decimal overflow or invalid operation while planning
CLIENT_HOLDINGS_LATE = "CLIENT_HOLDINGS_LATE"  # informs: optimized without the client's holdings
DEFERRED = "DEFERRED"  # informs: the run a rule held back is evaluated again on a later day
FALLBACK_USED = "FALLBACK_USED"  # informs: an ineligible symbol is traded as the model's fallback
BAND_EDGE = "BAND_EDGE"  # informs: traded only what breached its band, to just inside it
REPLANNED = "REPLANNED"  # informs: planned again, its run stopped at its start (prices moved)
CARRIED_FORWARD = "CARRIED_FORWARD"  # informs: a sub-minimum amount joined or kept for later
CARRY_DROPPED = "CARRY_DROPPED"  # informs: a carried amount dropped (symbol gone, no price)
RETRY = "RETRY"  # informs: re-sends what failed or expired in an adjusted run (retry_of)

# The rule that decided an evaluation which starts no run: the reason of its NOT_RECOMMENDED
# decision record. Spelled like the `request.rejected` reason code where the wire has one.
PORTFOLIO_INACTIVE = "PORTFOLIO_INACTIVE"
BLOCKED = "BLOCKED"
AWAITING_CLIENT_HOLDINGS = "AWAITING_CLIENT_HOLDINGS"
EXTERNAL_OPTIMIZER = "EXTERNAL_OPTIMIZER"
OWN_WEIGHTS_WHILE_SUBSCRIBED = "OWN_WEIGHTS_WHILE_SUBSCRIBED"
MODEL_UNKNOWN = "MODEL_UNKNOWN"
NO_TARGET_WEIGHTS = "NO_TARGET_WEIGHTS"
MODEL_INACTIVE = "MODEL_INACTIVE"
MODEL_NEEDS_ADJUSTMENT = "MODEL_NEEDS_ADJUSTMENT"
NO_WITHDRAWAL_PENDING = "NO_WITHDRAWAL_PENDING"
DAILY_LIMIT = "DAILY_LIMIT"
COOLDOWN = "COOLDOWN"
IN_BAND = "IN_BAND"  # every drift within its band, no other condition met
NO_CONDITION_MET = "NO_CONDITION_MET"  # no drift band, no calendar date, no cash to invest
COST_GATE = "COST_GATE"  # the rebalance would cost more than its drift reduction is worth

# Reasons that make an optimization fail (not recommended) rather than merely inform.
FAILURE_CODES = frozenset(
    {
        PRICE_MISSING,
        PRICE_STALE,
        PRICE_INVALID,
        ASSET_NOT_TRADABLE,
        EXTERNAL_INVALID_QUANTITY,
        EXTERNAL_SELL_EXCEEDS_HOLDING,
        EXTERNAL_BUY_EXCEEDS_CASH,
        ORDER_OUT_OF_BOUNDS,
        ARITHMETIC_ERROR,
    }
)


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    symbol: str | None = None
    detail: str = ""

    @property
    def is_failure(self) -> bool:
        return self.code in FAILURE_CODES
