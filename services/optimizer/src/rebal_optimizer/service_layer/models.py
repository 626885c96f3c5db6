"""Model portfolios and their governance (domain/governance.py).

model.updated: the model is stored as sent, with its status as governed: an active model holding a
symbol the price feed calls ineligible (not tradable; not fractionable while a subscriber trades
fractions) and naming no fallback for it is stored `needs_adjustment`; one that no longer holds
such a symbol (removed, replaced, or given a fallback) is `active` again. Deactivating a model with
an active subscriber is refused (MODEL_IN_USE, `request.rejected`): the model stays as it was.
Every change of a stored model's status publishes `model.status_changed`, in the same write.

A new, re-activated, or weights/conditions/fallbacks-changed active model re-evaluates its
subscribers: ONE `rebalance.requested` (scope `model`, reason `model_changed`) in the same write,
with an id derived from the model.updated event, fanned out by fanout.py.

market.prices: a symbol that becomes ineligible turns every active model holding it (without a
fallback for it) into `needs_adjustment` at once, before the price is stored (so a crash in
between repeats the check; each model change is conditional, so it happens once). An evaluation
that finds an ineligible target symbol of its model marks the model the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from rebal_optimizer.domain import (
    DomainError,
    ModelPortfolio,
    ModelStatus,
    PortfolioAccount,
    Price,
    deactivation_refusal,
    governed,
    ineligible,
    status_change,
    symbol_became_ineligible,
)
from rebal_optimizer.domain.governance import held_symbols
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.messages import derived_id, model_status_changed
from rebal_optimizer.service_layer.ports import PortfolioQueries, ReferenceData
from rebal_optimizer.service_layer.rejections import rejecting
from rebal_runtime.log import get_logger
from rebal_schemas import (
    Event,
    ModelUpdated,
    PoisonMessage,
    PriceUpdated,
    RebalanceRequested,
    TriggerReason,
)

log = get_logger(__name__)
PAGE = 200
Load = Callable[[str], Awaitable[PortfolioAccount | None]]


def needs_reevaluation(model: ModelPortfolio, previous: ModelPortfolio | None) -> bool:
    if model.status is not ModelStatus.ACTIVE:
        return False
    if previous is None or previous.status is not ModelStatus.ACTIVE:
        return True  # new, or active again: its subscribers may have been waiting for it
    return model.rebalance_relevant_change(previous)


class ModelCatalog:
    def __init__(
        self, reference: ReferenceData, queries: PortfolioQueries, load: Load, producer: str
    ) -> None:
        self.reference = reference
        self.queries = queries
        self.load = load
        self.producer = producer

    async def model_updated(self, event: ModelUpdated) -> bool:
        try:
            model = inputs.model(event)
        except DomainError as error:
            raise PoisonMessage(f"model.updated {event.event_id}: {error.reason}") from error
        subscriber = None
        if model.status is ModelStatus.INACTIVE:
            subscriber = await self._subscriber(model.model_id)
        unfit = await self._unfit(model)

        def write(previous: ModelPortfolio | None) -> tuple[ModelPortfolio, list[Event]]:
            refusal = deactivation_refusal(previous, model, subscriber)
            if refusal is not None and previous is not None:
                log.info("model deactivation refused", model_id=model.model_id)
                return previous, [rejecting(event, refusal, self.producer, model_id=model.model_id)]
            stored = governed(model, unfit)
            publish: list[Event] = []
            change = status_change(previous, stored)
            if change is not None:
                publish.append(
                    model_status_changed(change, cause_id=event.event_id, producer=self.producer)
                )
            if needs_reevaluation(stored, previous):
                publish.append(
                    RebalanceRequested(
                        event_id=derived_id(event.event_id, "model_changed"),
                        scope="model",
                        model_id=model.model_id,
                        reason=TriggerReason.model_changed,
                        **event.caused(producer=self.producer),
                    )
                )
            return stored, publish

        return await self.reference.save_model(model, event.event_id, write)

    async def price_ineligible(self, event: PriceUpdated, quote: Price) -> int:
        """Before the quote is stored: when it makes its symbol ineligible (and the stored one
        did not), every active model holding it needs adjustment. Returns how many changed."""
        if quote.tradable and quote.fractionable:
            return 0
        before = (await self.reference.prices([event.symbol])).get(event.symbol)
        if before is not None and (
            before.as_of >= quote.as_of
            or (before.tradable, before.fractionable) == (quote.tradable, quote.fractionable)
        ):
            return 0  # an older quote, or no change of eligibility
        why = "not tradable" if not quote.tradable else "not fractionable"
        changed = 0
        after: str | None = None
        while True:
            ids = await self.reference.model_ids(after=after, limit=PAGE)
            for model_id in ids:
                model = await self.reference.model(model_id)
                if model is None or symbol_became_ineligible(model, event.symbol) is None:
                    continue
                if quote.tradable and await self._subscriber(model_id, fractional=True) is None:
                    continue  # not fractionable, but no subscriber trades fractions
                changed += await self.mark_needs_adjustment(
                    model_id, [event.symbol], event.event_id, f"{event.symbol} {why}"
                )
            if len(ids) < PAGE:
                return changed
            after = ids[-1]

    async def mark_needs_adjustment(
        self, model_id: str, symbols: Iterable[str], cause_id: str, why: str = ""
    ) -> int:
        """The model holds ineligible `symbols`: it needs adjustment (model.status_changed when
        its status changes). Returns 1 when the model changed."""
        found = sorted(set(symbols))
        changed = [0]

        def change(model: ModelPortfolio) -> tuple[ModelPortfolio, list[Event]] | None:
            new = model
            for symbol in found:
                new = symbol_became_ineligible(new, symbol) or new
            if new == model:
                return None
            log.warning("model needs adjustment", model_id=model_id, symbols=new.ineligible)
            reason = why or f"ineligible: {', '.join(new.ineligible)}"
            moved = status_change(model, new, reason)
            changed[0] = 1
            if moved is None:
                return new, []
            return new, [model_status_changed(moved, cause_id=cause_id, producer=self.producer)]

        await self.reference.change_model(model_id, change)
        return changed[0]

    async def _unfit(self, model: ModelPortfolio) -> set[str]:
        """The model's symbols the last prices call ineligible for it."""
        prices = await self.reference.prices(held_symbols(model))
        unfit = set(ineligible(prices, prices, fractional=False))
        whole = any(not quote.fractionable for quote in prices.values())
        if whole and await self._subscriber(model.model_id, fractional=True) is not None:
            unfit |= set(ineligible(prices, prices, fractional=True))
        return unfit

    async def _subscriber(self, model_id: str, *, fractional: bool = False) -> str | None:
        """An active subscriber of the model (one that trades fractions, with `fractional`)."""
        after: str | None = None
        while True:
            ids = await self.queries.subscribers(model_id, after=after, limit=PAGE)
            for portfolio_id in ids:
                account = await self.load(portfolio_id)
                settings = account.portfolio.settings if account is not None else None
                if settings is None or not settings.active or settings.model_id != model_id:
                    continue
                if not fractional or settings.fractional_trading:
                    return portfolio_id
            if len(ids) < PAGE:
                return None
            after = ids[-1]
