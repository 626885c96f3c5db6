"""The broker port: what the service layer needs from a broker. Declarations only (the domain
never awaits); the Alpaca client implements it, tests use fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Protocol

from rebal_order_router.domain.broker import BrokerOrder, TradeUpdate
from rebal_order_router.domain.values import OrderSide


class BrokerPort(Protocol):
    """Raises the `domain.errors` classes: BrokerUnavailable, RateLimited, OrderRejected,
    DuplicateClientOrderId."""

    async def submit_order(
        self,
        account_id: str,
        client_order_id: str,
        symbol: str,
        side: OrderSide,
        *,
        qty: Decimal | None = None,
        notional: Decimal | None = None,
    ) -> BrokerOrder:
        """A market, time_in_force=day order of exactly one of qty or notional."""
        ...

    async def get_order_by_client_order_id(
        self, account_id: str, client_order_id: str
    ) -> BrokerOrder | None:
        """None when the broker has no order with that id."""
        ...

    async def cancel_order(self, account_id: str, order_id: str) -> None: ...

    def stream_trade_updates(
        self, since_id: str | None = None
    ) -> AsyncIterator[Sequence[TradeUpdate]]:
        """Trade updates after `since_id` (None: live only), in stream order, in batches of
        what arrived together (never empty). The iterator ends when the server closes the
        stream; reconnect with the last processed event_id."""
        ...
