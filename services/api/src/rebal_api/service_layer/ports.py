"""What the service layer works on: the read model's repositories (the runtime's `Repository`
over the store port; their document mappers are the adapters', wired in by the bootstrap) and
the clock."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_api.domain.views import AccountView, ModelView, RequestRecord, RunRequest, RunView
from rebal_runtime.repository import Repository
from rebal_runtime.store import DocumentStore


@dataclass(frozen=True)
class ReadModel:
    store: DocumentStore
    models: Repository[ModelView]
    """Alpaca portfolios, by rebal model id; index `uuid`."""
    accounts: Repository[AccountView]
    """Accounts and their subscription, by rebal portfolio id; indexes `account_uuid`,
    `model_id` (the model followed), `subscription_uuid`."""
    runs: Repository[RunView]
    """Runs, by rebal run id; indexes `uuid`, `account_uuid`, `open_account` (not final)."""
    run_requests: Repository[RunRequest]
    """Runs asked for and not created by rebal yet, by Alpaca run id; indexes `account_uuid`,
    `open_account`, `optimization_id`."""
    requests: Repository[RequestRecord]
    """Answered writes, by idempotency key."""
    stream: str
    """The collection of the rebalancer stream (documents by ULID)."""
