"""What every write of the api shares: the envelope of its events and their validation."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, SerializerFunctionWrapHandler, ValidationError, model_serializer

import rebal_schemas as wire
from rebal_api.service_layer.errors import Unprocessable
from rebal_api.service_layer.writes import Writes
from rebal_runtime.clock import Clock
from rebal_schemas.codec import describe

M = TypeVar("M", bound=BaseModel)


class EventCommands:
    def __init__(self, writes: Writes, clock: Clock, producer: str) -> None:
        self.writes = writes
        self.clock = clock
        self.producer = producer

    def _envelope(self) -> dict[str, Any]:
        now = self.clock.now()
        return {"producer": self.producer, "occurred_at": now, "recorded_at": now}

    @staticmethod
    def _valid(build: type[M], **fields: Any) -> M:
        """The event, or 422 with rebal's reason (rebal_schemas checks what rebal would)."""
        try:
            return build(**fields)
        except ValidationError as exc:
            raise Unprocessable(describe(exc)) from None


_PATCHED = frozenset(wire.PortfolioSettingsChanged.model_fields) - frozenset(
    {*wire.Event.model_fields, "portfolio_id", "event_type", "base_currency"}
)


class SettingsPatch(wire.PortfolioSettingsChanged):
    """`portfolio.settings_changed` on the wire with only the settings it was given.

    `rebal_schemas.encode` writes every field, nulls included, and the optimizer applies a null
    the JSON names for two fields: `model_id: null` ends a subscription, `target_weights: null`
    drops the own weights (its `patched_settings`; other nulls leave a setting unchanged). So
    the api's settings events leave out what the client did not give."""

    @model_serializer(mode="wrap")
    def _given_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k not in _PATCHED or k in self.model_fields_set}
