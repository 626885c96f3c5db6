"""The retry state of a portfolio document (domain/retry_state.py): the failed legs of an
adjusted run waiting for their follow-up run, and the retry run in flight. Documents older than
retries have neither."""

from __future__ import annotations

from typing import Any

from rebal_optimizer.adapters.domain_json import opt_dec, to_dec
from rebal_optimizer.domain import RunType, Side
from rebal_optimizer.domain.retry_state import PendingRetry, RetryLeg, RetryLink

Json = dict[str, Any]


def pending_retry_json(p: PendingRetry | None) -> Json | None:
    if p is None:
        return None
    return {
        "retry_of": p.retry_of,
        "failed_run": p.failed_run,
        "attempt": p.attempt,
        "run_type": str(p.run_type),
        "legs": [
            {
                "symbol": leg.symbol,
                "side": str(leg.side),
                "qty": opt_dec(leg.qty),
                "notional": opt_dec(leg.notional),
            }
            for leg in p.legs
        ],
    }


def pending_retry_of(d: Json | None) -> PendingRetry | None:
    if d is None:
        return None
    legs = tuple(
        RetryLeg(leg["symbol"], Side(leg["side"]), to_dec(leg["qty"]), to_dec(leg["notional"]))
        for leg in d["legs"]
    )
    return PendingRetry(d["retry_of"], d["failed_run"], d["attempt"], RunType(d["run_type"]), legs)


def retry_link_json(link: RetryLink | None) -> Json | None:
    if link is None:
        return None
    return {
        "optimization_id": link.optimization_id,
        "retry_of": link.retry_of,
        "attempt": link.attempt,
    }


def retry_link_of(d: Json | None) -> RetryLink | None:
    if d is None:
        return None
    return RetryLink(d["optimization_id"], d["retry_of"], d["attempt"])
