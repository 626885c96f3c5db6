"""Where a run is listed on `GET /v1/rebalancing/runs` and a portfolio's transactions (pure):
the listing id sorts newest first (`<newest_first(created_at, alpaca id)>|<kind>|<rebal id>`,
kind `r` for a run by its run id, `q` for a run request by its Alpaca id), and its index values
say what it is listed as while it is shown (`type`, `type_status`, and the same within its
account: `account_type`, `account_type_status`), whose transactions it carries (`portfolio`: a
run with a type, shown or not) and how to find it again (`ref`). The adapter `run_listing`
keeps these documents; the queries page through them, one indexed query in id order a page."""

from __future__ import annotations

from dataclasses import dataclass

from rebal_api.domain.ids import newest_first, to_uuid
from rebal_api.domain.views import RunRequest, RunView

RUN, REQUEST = "r", "q"
IndexValue = str | None


@dataclass(frozen=True)
class Listed:
    """Where one run (or request) is listed; `type`/`status` None: it is not shown."""

    id: str
    ref: str
    type: str | None = None
    status: str | None = None
    account: str | None = None
    """The Alpaca account id (a UUID) of a shown run."""
    portfolio: str | None = None
    """The rebal portfolio id of a run with a type (its legs are the portfolio's transactions)."""

    def index(self) -> dict[str, IndexValue]:
        shown = self.type is not None
        return {
            "ref": self.ref,
            "type": self.type,
            "type_status": f"{self.type}|{self.status}" if shown else None,
            "account_type": f"{self.account}|{self.type}" if shown else None,
            "account_type_status": f"{self.account}|{self.type}|{self.status}" if shown else None,
            "portfolio": self.portfolio,
        }


def listed_run(run: RunView) -> Listed:
    ref = f"{RUN}|{run.run_id}"
    uuid = run.uuid or ""
    key = f"{newest_first(run.created_at, uuid)}|{ref}"
    portfolio = run.portfolio_id if run.type else None
    if not run.shown:
        return Listed(key, ref, portfolio=portfolio)
    account = to_uuid("account", run.account_id)
    return Listed(key, ref, run.type, run.status, account, portfolio)


def listed_request(request: RunRequest) -> Listed:
    ref = f"{REQUEST}|{request.uuid}"
    key = f"{newest_first(request.created_at, request.uuid)}|{ref}"
    if request.run_id is not None:
        return Listed(key, ref)
    account = to_uuid("account", request.account_id)
    return Listed(key, ref, request.type, request.status, account)


def parse(listing_id: str) -> tuple[str, str]:
    """(kind, rebal id) of a listing id; `ValueError` when it is not one."""
    _, kind, ref = listing_id.split("|", 2)
    return kind, ref
