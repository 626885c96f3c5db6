"""Each domain enum that deliberately copies a wire enum of rebal_schemas keeps its values.

Domains may not import rebal_schemas (tests/test_architecture.py), so they carry their own copy of
the vocabularies they reason about and the service layer converts by value (`Wire(domain.value)`).
These pins make a drift fail here instead of at the first message that carries the new value.
"""

from __future__ import annotations

from enum import Enum

import pytest

import rebal_schemas as wire
from rebal_optimizer.domain import enums as optimizer_enums
from rebal_optimizer.domain import optimization as optimizer_optimization
from rebal_order_router.domain import values as router_values
from rebal_scheduler.domain import slots as scheduler_slots
from rebal_settlement_tracker.domain import completion as tracker_completion
from rebal_settlement_tracker.domain import transaction as tracker_transaction

# (domain enum, wire enum): the same value set.
EQUAL: list[tuple[type[Enum], type[Enum]]] = [
    (optimizer_enums.ModelStatus, wire.ModelStatus),
    (optimizer_enums.Mandate, wire.Mandate),
    (optimizer_enums.BrokerIntegration, wire.BrokerIntegration),
    (optimizer_enums.OptimizerMode, wire.OptimizerMode),
    (optimizer_enums.RunType, wire.RunType),
    (optimizer_enums.TriggerReason, wire.TriggerReason),
    (optimizer_enums.OwnerChoice, wire.OwnerChoice),
    (optimizer_enums.Side, wire.OrderSide),
    (router_values.OrderSide, wire.OrderSide),
    (router_values.CloseReason, wire.CloseReason),
    (tracker_transaction.Side, wire.OrderSide),
    (tracker_transaction.TransactionStatus, wire.TransactionStatus),
    (tracker_transaction.CloseReason, wire.CloseReason),
]

# (domain enum, wire enum, values only the domain has, values only the wire has): deliberate
# differences, each explained. None for "only the wire has" means any: the domain needs only its
# own values to be valid wire values, and the wire may grow without the domain following.
DIFFERENT: list[tuple[type[Enum], type[Enum], set[str], set[str] | None]] = [
    # COMPLETED is the optimizer's own terminal state (READY -> COMPLETED on run.completed); it
    # is never published as an optimization status (run.completed itself is the wire record).
    (optimizer_optimization.OptimizationStatus, wire.OptimizationStatus, {"COMPLETED"}, set()),
    # The domain only tells the scheduler ("system") from everything else: inputs.initiator maps
    # api and dashboard to API.
    (optimizer_enums.Initiator, wire.RunInitiator, set(), {"dashboard"}),
    # TIMEOUT is never produced: rebal does not give up on a run by itself (completion.py).
    (tracker_completion.RunStatus, wire.RunStatus, set(), set()),
    # A slot kind becomes the `reason` of the rebalance.requested it fires
    # (TriggerReason(slot.kind.value)); the other reasons are not scheduled.
    (scheduler_slots.SlotKind, wire.TriggerReason, set(), None),
]


def values(enum: type[Enum]) -> set[str]:
    return {str(member.value) for member in enum}


def label(enum: type[Enum]) -> str:
    return f"{enum.__module__.split('.')[0]}.{enum.__qualname__}"


@pytest.mark.parametrize(
    ("domain", "wire_enum"),
    EQUAL,
    ids=[f"{label(d)}={w.__qualname__}" for d, w in EQUAL],
)
def test_domain_enum_has_the_wire_values(domain: type[Enum], wire_enum: type[Enum]) -> None:
    assert values(domain) == values(wire_enum)


@pytest.mark.parametrize(
    ("domain", "wire_enum", "only_domain", "only_wire"),
    DIFFERENT,
    ids=[f"{label(d)}~{w.__qualname__}" for d, w, _, _ in DIFFERENT],
)
def test_domain_enum_differs_only_as_intended(
    domain: type[Enum], wire_enum: type[Enum], only_domain: set[str], only_wire: set[str] | None
) -> None:
    assert values(domain) - values(wire_enum) == only_domain
    if only_wire is not None:
        assert values(wire_enum) - values(domain) == only_wire
    assert values(domain) & values(wire_enum), "no shared value: not a copy of this wire enum"
