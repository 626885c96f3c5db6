"""Model portfolios: stored as the client sends them; a change of weights or conditions (or a new
or re-activated model) re-evaluates its subscribers through the optimizer's own fan-out.

The re-evaluation is ONE `rebalance.requested` (scope `model`, reason `model_changed`) written to
the outbox in the same atomic write as the model, with an id derived from the model.updated
event: the fan-out handler turns it into one request per subscriber (see fanout.py).

A model whose evaluation found a non-tradable symbol becomes `needs_adjustment` in the optimizer's
model document (the optimizer does not own `model.updated`, so it publishes no model event; the
decision records of the affected optimizations carry ASSET_NOT_TRADABLE). Its subscribers are not
optimized until the client sends the model again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rebal_optimizer.domain import DomainError, ModelPortfolio, ModelStatus
from rebal_optimizer.service_layer import inputs
from rebal_optimizer.service_layer.messages import derived_id
from rebal_optimizer.service_layer.ports import ReferenceData
from rebal_runtime.log import get_logger
from rebal_schemas import Event, ModelUpdated, PoisonMessage, RebalanceRequested, TriggerReason

log = get_logger(__name__)


def needs_reevaluation(model: ModelPortfolio, previous: ModelPortfolio | None) -> bool:
    if model.status is not ModelStatus.ACTIVE:
        return False
    if previous is None or previous.status is not ModelStatus.ACTIVE:
        return True  # new, or active again: its subscribers may have been waiting for it
    return model.rebalance_relevant_change(previous)


class ModelCatalog:
    def __init__(self, reference: ReferenceData, producer: str) -> None:
        self.reference = reference
        self.producer = producer

    async def model_updated(self, event: ModelUpdated) -> bool:
        try:
            model = inputs.model(event)
        except DomainError as error:
            raise PoisonMessage(f"model.updated {event.event_id}: {error.reason}") from error

        def publish_for(previous: ModelPortfolio | None) -> list[Event]:
            publish: list[Event] = []
            if needs_reevaluation(model, previous):
                publish.append(
                    RebalanceRequested(
                        event_id=derived_id(event.event_id, "model_changed"),
                        scope="model",
                        model_id=model.model_id,
                        reason=TriggerReason.model_changed,
                        **event.caused(producer=self.producer),
                    )
                )
            return publish

        return await self.reference.save_model(model, event.event_id, publish_for)

    async def mark_needs_adjustment(
        self, model_id: str, symbols: Iterable[str], cause_id: str
    ) -> None:
        found = set(symbols)

        def change(model: ModelPortfolio) -> tuple[ModelPortfolio, Sequence[str]] | None:
            targeted = {w.symbol for w in model.weights if w.symbol is not None}
            non_tradable = sorted(found & targeted)
            if model.status is not ModelStatus.ACTIVE or not non_tradable:
                return None
            log.warning(
                "model needs adjustment: non-tradable symbols",
                model_id=model_id,
                symbols=non_tradable,
                cause=cause_id,
            )
            return model.with_status(ModelStatus.NEEDS_ADJUSTMENT), non_tradable

        await self.reference.change_model(model_id, change)
