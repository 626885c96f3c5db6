"""CLIENT integration: after a run, the portfolio waits for the client's holdings snapshot newer
than the run's last execution (`Portfolio.awaiting_client_holdings_after`), at most
`client_holdings_wait`; past that deadline it is optimized on the optimizer's own book (the run's
trades applied, `Portfolio.apply_run`), and the optimization says so."""

from __future__ import annotations

from datetime import datetime, timedelta

from rebal_optimizer.domain.portfolio import Portfolio
from rebal_optimizer.domain.reasons import CLIENT_HOLDINGS_LATE, Reason
from rebal_optimizer.domain.triggers import ConditionEvaluation


def late_client_holdings(
    portfolio: Portfolio, now: datetime, wait: timedelta | None
) -> tuple[ConditionEvaluation, Reason] | None:
    """When the wait passed its deadline: the decision record's line and the optimization's
    reason (CLIENT_HOLDINGS_LATE) that say it is optimized on its own book; else None."""
    after = portfolio.awaiting_client_holdings_after
    if after is None or wait is None or not portfolio.client_holdings_late(now, wait):
        return None
    deadline = (after + wait).isoformat()
    detail = (
        f"no holdings from the client newer than the last execution ({after.isoformat()}) by "
        f"{deadline}: optimized on rebal's own book, the run's trades applied"
    )
    line = ConditionEvaluation("client_holdings_late", True, after.isoformat(), deadline, detail)
    return line, Reason(CLIENT_HOLDINGS_LATE, detail=detail)
