"""The summary a person reads after the demo: tables on the terminal, a PNG of drift before/after."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from rebal_demo.client_side import ClientSide
from rebal_demo.scenario import MODELS_BY_ID, PortfolioPlan, flow_name

NEW_YORK = ZoneInfo("America/New_York")


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def drift_after(client: ClientSide, plans: dict[str, PortfolioPlan]) -> dict[str, Decimal]:
    return {
        pid: client.books[pid].max_drift(MODELS_BY_ID[plan.model_id], client.prices)
        for pid, plan in plans.items()
        if pid in client.books
    }


def window_and_cancel(client: ClientSide, console: Console) -> None:
    """The runs that waited for the window's opening, and the run its owner cancelled."""
    queued = client.queued
    if queued:
        started = [client.started[r] for r in queued if r in client.started]
        opens = sorted({q.starts_at for q in queued.values()})
        first = min((s.started_at for s in started), default=None)
        table = Table(title="Execution window (order-router clock)")
        for col in ("queued before the open", "opening", "started at the open", "first start"):
            table.add_column(col, justify="right")
        table.add_row(
            str(len(queued)),
            ", ".join(f"{o.astimezone(NEW_YORK):%H:%M:%S} New York" for o in opens),
            str(len(started)),
            f"{first.astimezone(NEW_YORK):%H:%M:%S} New York" if first else "-",
        )
        console.print(table)
    if client.cancel_target is not None:
        run = client.completed.get(client.cancel_target)
        outcome = run.status.value if run is not None else "no run.completed"
        console.print(
            f"cancelled by its owner before any fill: run {client.cancel_target}: {outcome}"
        )


def render(
    client: ClientSide,
    plans: dict[str, PortfolioPlan],
    console: Console,
    phase_seconds: dict[str, float],
) -> dict[str, Decimal]:
    runs = list(client.completed.values())
    by_status = Counter(r.status.value for r in runs)
    table = Table(title="Runs by status")
    table.add_column("status")
    table.add_column("runs", justify="right")
    for status, count in sorted(by_status.items()):
        table.add_row(status, str(count))
    table.add_row("[bold]total[/bold]", f"[bold]{len(runs)}[/bold]")
    console.print(table)

    window_and_cancel(client, console)

    flows = Table(title="Runs by flow (broker integration / mandate / optimizer) and run type")
    for col in (
        "flow",
        "portfolios",
        "full_rebalance",
        "invest_cash",
        "partial_liquidation",
        "rejected by owner",
        "not ready",
    ):
        flows.add_column(col, justify="right" if col != "flow" else "left")
    per_flow: dict[str, Counter[str]] = {}
    for plan in plans.values():
        per_flow.setdefault(flow_name(plan.flow), Counter())["portfolios"] += 1

    def tally(portfolio_id: str, what: str) -> None:
        if (owner := plans.get(portfolio_id)) is not None:
            per_flow[flow_name(owner.flow)][what] += 1

    for run in runs:
        tally(run.portfolio_id, run.type.value)
    for change in client.status_changes:
        if change.status.value == "REJECTED":
            tally(change.portfolio_id, "rejected")
    for created in client.created:
        if created.status.value == "NOT_RECOMMENDED":
            tally(created.portfolio_id, "not_ready")
    for name in sorted(per_flow):
        c = per_flow[name]
        flows.add_row(
            name,
            str(c["portfolios"]),
            str(c["full_rebalance"]),
            str(c["invest_cash"]),
            str(c["partial_liquidation"]),
            str(c["rejected"]),
            str(c["not_ready"]),
        )
    console.print(flows)

    orders = [o for r in runs for o in (*r.orders, *r.failed_orders)]
    filled = [o for o in orders if o.filled_qty > 0]
    skipped = sum(len(r.skipped_orders) for r in runs)
    turnover = sum((o.filled_qty * (o.filled_avg_price or 0) for o in filled), Decimal(0))
    after = drift_after(client, plans)
    rebalanced = {r.portfolio_id for r in runs if r.type.value == "full_rebalance"}
    drifters = [pid for pid, p in plans.items() if p.cohort == "drifter" and pid in rebalanced]
    before_max = max(
        (client.drift_before.get(pid, Decimal(0)) for pid in drifters), default=Decimal(0)
    )
    after_max = max((after.get(pid, Decimal(0)) for pid in drifters), default=Decimal(0))
    t = client.timeline
    facts = Table(title="Orders, drift and latency")
    facts.add_column("figure")
    facts.add_column("value", justify="right")
    facts.add_row("orders executed / skipped (min notional)", f"{len(filled)} / {skipped}")
    facts.add_row("turnover (USD)", f"{turnover:,.2f}")
    facts.add_row(
        f"largest drift of the {len(drifters)} rebalanced drifters, before (pp)",
        f"{before_max:.2f}",
    )
    facts.add_row(
        f"largest drift of the {len(drifters)} rebalanced drifters, after (pp)", f"{after_max:.2f}"
    )
    facts.add_row(
        "trigger -> run.completed p50 / p90 / p99 (s)",
        " / ".join(f"{percentile(t.latencies_trigger_to_completed, p):.2f}" for p in (50, 90, 99)),
    )
    facts.add_row(
        "optimization.ready -> run.completed p50 / p99 (s)",
        " / ".join(f"{percentile(t.latencies_ready_to_completed, p):.2f}" for p in (50, 99)),
    )
    facts.add_row("dead letters", str(len(client.dead_letters)))
    for phase, seconds in phase_seconds.items():
        facts.add_row(f"phase '{phase}' (s)", f"{seconds:.1f}")
    console.print(facts)
    return after


def chart(
    client: ClientSide, plans: dict[str, PortfolioPlan], after: dict[str, Decimal], path: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rebalanced = {
        r.portfolio_id for r in client.completed.values() if r.type.value == "full_rebalance"
    }
    all_drifters = sorted(pid for pid, p in plans.items() if p.cohort == "drifter")
    ids = [pid for pid in all_drifters if pid in rebalanced]
    others = [pid for pid in all_drifters if pid not in rebalanced]
    before_values = [float(client.drift_before.get(pid, 0)) for pid in ids]
    after_values = [float(after.get(pid, 0)) for pid in ids]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    bins = 30
    left.hist(
        before_values, bins=bins, alpha=0.7, label="before (after the market move)", color="#d62728"
    )
    left.hist(after_values, bins=bins, alpha=0.7, label="after the rebalance", color="#2ca02c")
    left.set_xlabel("largest drift from target (percentage points)")
    left.set_ylabel("portfolios")
    left.set_title(f"{len(ids)} rebalanced drifters: largest drift before and after")
    left.legend()
    right.scatter(before_values, after_values, s=10, alpha=0.6, label="rebalanced")
    right.scatter(
        [float(client.drift_before.get(pid, 0)) for pid in others],
        [float(after.get(pid, 0)) for pid in others],
        s=10,
        alpha=0.6,
        marker="x",
        label="not rebalanced (owner rejected, or no band breached)",
    )
    right.legend(fontsize=8)
    right.set_xlabel("drift before (pp)")
    right.set_ylabel("drift after (pp)")
    right.set_title("Per portfolio")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
