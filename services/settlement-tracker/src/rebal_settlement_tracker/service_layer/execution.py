"""run.execution: the order-router's reports of a PLATFORM run's execution, as Run commands.

- `run.execution_queued`  -> the run stays QUEUED; `starts_at` is recorded on it (a run the
  window closed on before it sent anything is queued again, a new event with a later start:
  the latest start stands);
- `run.execution_started` -> IN_PROGRESS (its deadline starts counting);
- `run.execution_stopped` -> `canceled` / `replan`: the run ends at once (CANCELED, or
  CANCELED_MID_RUN if fills had come); `canceled_mid_run`: recorded, the run ends
  CANCELED_MID_RUN once every order is final (closes it brought about, read before it, wait
  for it). Its final status change names the stop's `causation_id` (the cancel request).

Only the order-router writes this topic (the broker's ACLs say so); on a broker without ACLs its
signature is the only proof, so when the deployment verifies signatures every report must carry
the order-router's, whatever the run (`domain.check_signed`): an unsigned one is refused like an
unsigned PLATFORM fill. Reports may come before the plan: they are kept on the run like early
fills, and a stop then ends the run as soon as its plan is known.
"""

from __future__ import annotations

from collections.abc import Callable

from rebal_schemas import RunExecutionQueued, RunExecutionStarted, RunExecutionStopped
from rebal_settlement_tracker.domain import (
    AcceptancePolicy,
    FactSource,
    Run,
    RunStop,
    StopKind,
    check_signed,
)
from rebal_settlement_tracker.service_layer.provenance import Provenance

RunExecution = RunExecutionQueued | RunExecutionStarted | RunExecutionStopped


def execution_command(
    event: RunExecution, provenance: Provenance | None, policy: AcceptancePolicy
) -> Callable[[Run], Run]:
    """The command `event` gives the run; FactRejected (NOT_SIGNED) when it is not the
    order-router's while signatures are verified."""
    known = provenance or Provenance()
    source = FactSource(event.event_id, signer=known.signer, signature=known.signature)

    def command(run: Run) -> Run:
        check_signed(event.event_type, source, policy)
        if isinstance(event, RunExecutionQueued):
            return run.queue_execution(event.starts_at)
        if isinstance(event, RunExecutionStarted):
            return run.start_execution(event.started_at)
        stop = RunStop(StopKind(event.outcome), event.stopped_at, event.reason, event.causation_id)
        return run.stop_execution(stop)

    return command
