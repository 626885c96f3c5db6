"""The dashboard's pages as view-models, built from the read model (`/ui`, `entrypoints.
routes_ui` renders them): overview, runs, advisory inbox, portfolio, models."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from rebal_api.domain import dashboard as ui
from rebal_api.domain.dead_letters import DeadLetterEntry
from rebal_api.domain.optimizations import OptimizationView
from rebal_api.domain.portfolio_book import PortfolioView
from rebal_api.domain.views import AccountView, ModelView, RunView
from rebal_api.service_layer.dashboard_reads import DashboardReads, PortfolioRow, RunRow
from rebal_api.service_layer.lag import LagSnapshot, ProjectionLag
from rebal_api.service_layer.ports import DEAD_LETTER_LOG, ReadModel
from rebal_runtime.clock import Clock

SHOWN_PER_STATE = 25
RUNS_SHOWN = 200


@dataclass(frozen=True)
class Overview:
    now: datetime
    total: int
    states: list[tuple[str, str, int]]
    """(state, label, portfolios) in `ui.STATES` order."""
    by_state: dict[str, list[PortfolioRow]]
    runs_today: list[tuple[str, int]]
    queued: list[RunRow]
    lag: LagSnapshot
    dead_letters: list[DeadLetterEntry]
    """The last hour's, newest first."""


@dataclass(frozen=True)
class RunFilter:
    status: str | None = None
    type: str | None = None
    account: str | None = None
    """A portfolio id, an account id or an Alpaca account UUID (or the start of one)."""
    day: date | None = None

    def matches(self, row: RunRow) -> bool:
        account = self.account.strip() if self.account else None
        return (
            (self.status is None or row.status == self.status)
            and (self.type is None or row.type == self.type)
            and (
                not account
                or row.portfolio_id.startswith(account)
                or row.account_uuid.startswith(account)
            )
            and (self.day is None or row.created_at.astimezone(UTC).date() == self.day)
        )


@dataclass(frozen=True)
class RunsPage:
    filter: RunFilter
    rows: list[RunRow]
    matched: int
    accounts: list[AccountView]
    """The accounts a manual run can be started for (those with an Alpaca account id)."""


@dataclass(frozen=True)
class Proposal:
    portfolio_id: str
    optimization: OptimizationView
    time_left: str
    positions: list[ui.Position]


@dataclass(frozen=True)
class PortfolioPage:
    view: PortfolioView
    state: str
    model: ModelView | None
    account: AccountView | None
    positions: list[ui.Position]
    bands: list[tuple[str, Decimal]]
    optimizations: list[OptimizationView]
    runs: list[RunView]
    blocking: RunView | None = None
    time_left: dict[str, str] = field(default_factory=dict)

    @property
    def chart(self) -> dict[str, object]:
        """The bar chart's data: current and target weight per position, the bands."""

        def number(value: Decimal | None) -> float | None:
            return None if value is None else float(value)

        return {
            "kind": "positions",
            "labels": [p.symbol for p in self.positions],
            "current": [number(p.current) for p in self.positions],
            "target": [number(p.target) for p in self.positions],
            "bands": [[kind, float(percent)] for kind, percent in self.bands],
        }


@dataclass(frozen=True)
class ModelRow:
    model: ModelView
    subscribers: int


def start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


class DashboardQueries:
    def __init__(self, read: ReadModel, clock: Clock, lag: ProjectionLag) -> None:
        self.reads = DashboardReads(read)
        self.read = read
        self.clock = clock
        self.lag = lag

    async def overview(self) -> Overview:
        now = self.clock.now()
        portfolios = await self.reads.portfolio_rows()
        counts = Counter(p.state for p in portfolios)
        by_state = {s: [p for p in portfolios if p.state == s][:SHOWN_PER_STATE] for s in ui.STATES}
        runs = await self.reads.run_rows()
        since = start_of_day(now)
        today = Counter(r.status for r in runs if r.created_at >= since)
        queued = [r for r in runs if r.status == "QUEUED" and not r.request]
        log = await self.read.dead_letters.load(DEAD_LETTER_LOG)
        return Overview(
            now=now,
            total=len(portfolios),
            states=[(s, ui.STATE_LABELS[s], counts[s]) for s in ui.STATES],
            by_state=by_state,
            runs_today=[(s, today[s]) for s in ui.RUN_STATUSES],
            queued=sorted(queued, key=lambda r: r.created_at),
            lag=self.lag.snapshot(),
            dead_letters=log.last_hour(now) if log is not None else [],
        )

    async def runs(self, wanted: RunFilter) -> RunsPage:
        rows = [r for r in await self.reads.run_rows() if wanted.matches(r)]
        accounts = [
            a for a in await self.reads.every(self.read.accounts) if a.account_uuid is not None
        ]
        accounts.sort(key=lambda a: a.portfolio_id)
        return RunsPage(wanted, rows[:RUNS_SHOWN], len(rows), accounts)

    async def inbox(self) -> list[Proposal]:
        """Every optimization awaiting its owner's choice, oldest first."""
        now = self.clock.now()
        found = []
        for view in await self.reads.every(self.read.portfolios):
            latest = await self.reads.latest_optimization(view.portfolio_id)
            if latest is not None and latest.awaiting_owner:
                left = ui.time_left(latest.expires_at, now)
                found.append(
                    Proposal(view.portfolio_id, latest, left, ui.positions(latest.decision))
                )
        return sorted(found, key=lambda p: (p.optimization.created_at, p.portfolio_id))

    async def portfolio(self, portfolio_id: str) -> PortfolioPage | None:
        view = await self.read.portfolios.load(portfolio_id)
        if view is None:
            return None
        model_id = view.settings.model_id
        model = await self.read.models.load(model_id) if model_id else None
        page = await self.read.optimizations.query("portfolio_id", portfolio_id, limit=20)
        docs = await self.read.store.load_many(self.read.optimizations.collection, page)
        mapper = self.read.optimizations.mapper
        optimizations = [mapper.from_document(docs[i].state) for i in page if i in docs]
        latest = optimizations[0] if optimizations else None
        blocking = await self.read.runs.load(view.block.optimization_id) if view.block else None
        now = self.clock.now()
        return PortfolioPage(
            view=view,
            state=ui.portfolio_state(view, latest, model),
            model=model,
            account=await self.read.accounts.load(portfolio_id),
            positions=ui.positions(latest.decision) if latest else [],
            bands=ui.drift_bands(model),
            optimizations=optimizations,
            runs=await self.reads.portfolio_runs(portfolio_id, 20),
            blocking=blocking,
            time_left={
                o.optimization_id: ui.time_left(o.expires_at, now)
                for o in optimizations
                if o.awaiting_owner
            },
        )

    async def models(self) -> list[ModelRow]:
        models = sorted(
            await self.reads.every(self.read.models), key=lambda m: (m.created_at, m.model_id)
        )
        return [
            ModelRow(m, len(await self.read.accounts.ids("model_id", m.model_id))) for m in models
        ]
