"""What the service layer works on: the read model's repositories (the runtime's `Repository`
over the store port; their document mappers are the adapters', wired in by the bootstrap) and
the clock."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_api.domain.dead_letters import DeadLetterLog
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import AccountView, ModelView, RequestRecord, RunRequest, RunView
from rebal_runtime.repository import Repository
from rebal_runtime.store import DocumentStore

DEAD_LETTER_LOG = "recent"
"""The id of the one document of `ReadModel.dead_letters`."""


@dataclass(frozen=True)
class ReadModel:
    store: DocumentStore
    models: Repository[ModelView]
    """Alpaca portfolios, by rebal model id; index `uuid`."""
    accounts: Repository[AccountView]
    """Accounts and their subscription, by rebal portfolio id; indexes `account_uuid`,
    `model_id` (the model followed), `subscription_uuid`."""
    runs: Repository[RunView]
    """Runs, by rebal run id; indexes `uuid`, `account_uuid`, `open_account` (not final),
    `portfolio_id`. Listed newest first in `run_list` (`adapters.run_listing`)."""
    run_requests: Repository[RunRequest]
    """Runs asked for and not created by rebal yet, by Alpaca run id; indexes `account_uuid`,
    `open_account`, `optimization_id`."""
    requests: Repository[RequestRecord]
    """Answered writes, by idempotency key."""
    portfolios: Repository[PortfolioView]
    """InvestSuite portfolios (settings, holdings, cash, block), by rebal portfolio id."""
    optimizations: Repository[OptimizationView]
    """Optimizations with their decision record, by `OptimizationView.key` (newest first);
    indexes `portfolio_id`, `optimization_id`."""
    dead_letters: Repository[DeadLetterLog]
    """The dead letters read from dead.letter, newest kept, in one document (`DEAD_LETTER_LOG`)."""
    stream: str
    """The collection of the rebalancer stream (documents by ULID)."""
    run_list: str
    """The collection of the runs' listing (`adapters.run_listing`)."""
