"""portfolio.patched, one step per event type: settings (a subscription governed by
subscriptions.py), holdings, deposits and withdrawal requests, each evaluated with its trigger.

Cash semantics: `cash_deposited` adds to cash in both broker integrations; a holdings snapshot
replaces holdings and cash (an older snapshot than the last one is ignored); a delta adds. An
empty portfolio (no holdings, no cash) is stored but not evaluated: a new subscription waits for
the first funding. `withdrawal_requested` sets the total to raise (`full`: the portfolio's value
at the last prices) and is answered even when nothing can be done (NOT_RECOMMENDED + reason).
"""

from __future__ import annotations

from typing import Any

from rebal_optimizer.domain import PortfolioAccount, Trigger
from rebal_optimizer.domain import TriggerReason as Why
from rebal_optimizer.service_layer.ports import ReferenceData
from rebal_optimizer.service_layer.rejections import refused
from rebal_optimizer.service_layer.resumption import Evaluate
from rebal_optimizer.service_layer.subscriptions import Subscriptions
from rebal_optimizer.service_layer.tax_lots import reported_lots
from rebal_optimizer.service_layer.unit_of_work import Outcome, Step
from rebal_runtime.clock import Clock
from rebal_runtime.log import get_logger
from rebal_schemas import (
    CashDeposited,
    Event,
    HoldingsReported,
    PoisonMessage,
    PortfolioSettingsChanged,
    WithdrawalRequested,
)
from rebal_schemas.events.portfolio import PortfolioEvent

log = get_logger(__name__)


def unknown_portfolio(event: Event, portfolio_id: str) -> PoisonMessage:
    return PoisonMessage(
        f"unknown portfolio {portfolio_id!r} in {event.event_type} "
        f"{event.event_id}: publish portfolio.settings_changed first"
    )


class Patches:
    def __init__(
        self,
        reference: ReferenceData,
        subscriptions: Subscriptions,
        clock: Clock,
        evaluate: Evaluate,
    ) -> None:
        self.reference = reference
        self.subscriptions = subscriptions
        self.clock = clock
        self.evaluate = evaluate

    def step(self, event: PortfolioEvent) -> Step:
        if isinstance(event, PortfolioSettingsChanged):
            return self._settings_changed(event)
        if isinstance(event, HoldingsReported):
            return self._holdings_reported(event)
        if isinstance(event, CashDeposited):
            return self._cash_deposited(event)
        if isinstance(event, WithdrawalRequested):
            return self._withdrawal_requested(event)
        raise PoisonMessage(f"unsupported portfolio event {event.event_type}")

    def _settings_changed(self, event: PortfolioSettingsChanged) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome:
            if record is None:
                record = PortfolioAccount.create(event.portfolio_id, event.account_id)
            verdict = await self.subscriptions.govern(record, event, self.clock.now())
            changed = record.change_settings(verdict.settings, event.account_id, verdict.pending)
            outcome = await self.evaluate(changed, Trigger(Why.SETTINGS), event)
            if verdict.rejection is not None:
                outcome.publish = refused(outcome.publish, verdict.rejection)
            return outcome

        return step

    def _holdings_reported(self, event: HoldingsReported) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            snapshot = event.mode == "snapshot"
            # the last prices cost the lots a snapshot without lots leaves unknown (lots.py)
            quotes = await self.reference.prices(event.holdings) if snapshot else {}
            updated, paid = record.report_holdings(
                event.holdings,
                snapshot=snapshot,
                cash=event.cash,
                as_of=event.as_of,
                lots=reported_lots(event),
                prices={symbol: quote.price for symbol, quote in quotes.items()},
            )
            if updated is None:
                log.info("holdings unchanged (older snapshot or empty delta)")
                return None
            if paid > 0:
                pending = record.portfolio.pending_withdrawal
                log.info("withdrawal paid out", amount=str(paid), pending=str(pending))
            return await self.evaluate(updated, Trigger(Why.HOLDINGS), event)

        return step

    def _cash_deposited(self, event: CashDeposited) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome | None:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            updated = record.deposit(event.amount, event.deposit_id)
            if updated is None:
                log.info("deposit already applied", deposit_id=event.deposit_id)
                return None
            return await self.evaluate(updated, Trigger(Why.DEPOSIT), event)

        return step

    def _withdrawal_requested(self, event: WithdrawalRequested) -> Step:
        async def step(record: PortfolioAccount | None) -> Outcome:
            if record is None:
                raise unknown_portfolio(event, event.portfolio_id)
            amount = event.amount
            if amount is None:  # `full`: everything the portfolio is worth at the last prices
                prices = await self.reference.prices(record.portfolio.holdings)
                amount = record.full_withdrawal_amount(prices)
            updated = record.request_withdrawal(amount)
            options: dict[str, Any] = {"explicit": True, "run_type": "withdrawal"}
            return await self.evaluate(updated, Trigger(Why.WITHDRAWAL), event, **options)

        return step
