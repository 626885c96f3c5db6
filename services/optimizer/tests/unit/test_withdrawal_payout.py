"""A withdrawal is paid out when the client reports the cash leaving, for every optimizer mode."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from rebal_schemas import HoldingsReported

from .conftest import Env


@pytest.mark.parametrize("optimizer", ["PLATFORM", "EXTERNAL"])
async def test_negative_cash_delta_pays_the_pending_withdrawal(env: Env, optimizer: str) -> None:
    await env.funded("p1", optimizer=optimizer)
    env.clock.advance(timedelta(minutes=1)) if hasattr(env.clock, "advance") else None
    from rebal_schemas import WithdrawalRequested

    await env.handlers.portfolio_patched(
        WithdrawalRequested(portfolio_id="p1", amount=Decimal("3000"))
    )
    before = (await env.record("p1")).portfolio
    assert before.pending_withdrawal == Decimal("3000")
    await env.handlers.portfolio_patched(
        HoldingsReported(
            portfolio_id="p1",
            mode="delta",
            as_of=env.clock.now(),
            holdings={},
            cash=Decimal("-3000"),
        )
    )
    after = (await env.record("p1")).portfolio
    assert after.cash == before.cash - Decimal("3000")
    assert after.pending_withdrawal == 0
