"""`request.rejected` (key `portfolio_id`, else `model_id`): a valid request refused by a rule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rebal_schemas.enums import RejectionCode
from rebal_schemas.envelope import Event
from rebal_schemas.types import EntityId

REJECTED = "request.rejected"


class RequestRejected(Event):
    """A client request that is valid but refused by a rule. `causation_id` is the refused
    event's id, so the client matches the answer to its request; `reason_code` names the rule."""

    TOPIC = REJECTED
    event_type: Literal["request.rejected"] = "request.rejected"
    reason_code: RejectionCode
    message: str = Field(min_length=1, max_length=1024)
    request_event_type: str = Field(min_length=1, max_length=64)
    portfolio_id: EntityId | None = None
    account_id: EntityId | None = None
    model_id: EntityId | None = None
    run_id: EntityId | None = None

    @model_validator(mode="after")
    def _answers_a_request(self) -> RequestRejected:
        if self.causation_id is None:
            raise ValueError("a rejection names the refused event in causation_id")
        if self.portfolio_id is None and self.model_id is None:
            raise ValueError("a rejection names the portfolio_id or the model_id it is about")
        return self
