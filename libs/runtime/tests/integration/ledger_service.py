"""A tiny service used to prove the runtime's delivery guarantees over the real embedded broker.

It keeps a per-portfolio ledger of deposits and publishes an acknowledgement per deposit. Hooks
let tests inject failures at precise points (before commit, after commit before ack).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from faststream.kafka import KafkaRouter

from rebal_runtime.broker import batch_subscriber_options, subscriber_options
from rebal_runtime.service import ServiceRuntime
from rebal_runtime.settings import RuntimeSettings
from rebal_runtime.store import Document
from rebal_runtime.uow import Change, apply_once
from rebal_schemas import CashDeposited, OptimizationStatus, OptimizationStatusChanged
from rebal_schemas.events.portfolio import PortfolioEvent
from rebal_schemas.topics import PORTFOLIO_PATCHED

Hook = Callable[[CashDeposited], Awaitable[None]]


async def _noop(event: CashDeposited) -> None:
    return None


class Ledger:
    def __init__(self, settings: RuntimeSettings, *, batch: bool = False) -> None:
        self.runtime = ServiceRuntime(settings)
        self.before_commit: Hook = _noop
        self.after_commit: Hook = _noop
        self.effects = 0
        self.batch_sizes: list[int] = []
        self.seen: list[CashDeposited] = []  # every deposit handled, redeliveries included
        router = KafkaRouter()

        if batch:

            @router.subscriber(PORTFOLIO_PATCHED.name, **batch_subscriber_options(settings))
            async def on_portfolio_patched_batch(
                events: list[PORTFOLIO_PATCHED.payload_type],  # type: ignore[name-defined]
            ) -> None:
                self.batch_sizes.append(len(events))
                for event in events:
                    if isinstance(event, CashDeposited):
                        await self.deposit(event)
        else:

            @router.subscriber(PORTFOLIO_PATCHED.name, **subscriber_options(settings))
            async def on_portfolio_patched(event: PORTFOLIO_PATCHED.payload_type) -> None:  # type: ignore[name-defined]
                if isinstance(event, CashDeposited):
                    await self.deposit(event)

        self.runtime.include_router(router)

    async def deposit(self, event: CashDeposited) -> None:
        self.seen.append(event)

        async def mutate(doc: Document | None) -> Change:
            await self.before_commit(event)
            total = Decimal(doc.state["total"]) if doc else Decimal(0)
            total += event.amount
            ack = OptimizationStatusChanged(
                optimization_id=event.event_id,
                portfolio_id=event.portfolio_id,
                status=OptimizationStatus.CREATED,
                detail=f"deposit {event.amount}",
                **event.caused(producer="ledger"),
            )
            return Change(
                {"total": str(total), "count": (doc.state["count"] if doc else 0) + 1}, [ack]
            )

        applied = await apply_once(
            self.runtime.store, "ledgers", event.portfolio_id, event.event_id, mutate
        )
        if applied:
            self.effects += 1
        await self.after_commit(event)

    async def total(self, portfolio_id: str) -> tuple[Decimal, int]:
        doc = await self.runtime.store.load("ledgers", portfolio_id)
        return (Decimal(doc.state["total"]), doc.state["count"]) if doc else (Decimal(0), 0)


def is_portfolio_event(e: object) -> bool:
    return isinstance(e, PortfolioEvent)
