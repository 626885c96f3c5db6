"""`make demo` / `python -m rebal_demo`: the embedded stack, N portfolios, one trading day, a report."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from rebal_demo.driver import DemoOptions, Driver
from rebal_demo.report import chart, render
from rebal_demo.scenario import FLOWS, plan_portfolios

if TYPE_CHECKING:
    from rebal_runtime.stack import Stack

# The demo runs on any day at any hour: every day is a trading day with a 24-hour window (New
# York time), and trades settle T+0, so a whole rebalance completes while you watch. Demo-only
# settings such as ALWAYS_OPEN need the dev profile.
DEMO_ENVIRONMENT = {
    "REBAL_PROFILE": "dev",
    "REBAL_TRADING_CALENDAR": "ALWAYS_OPEN",
    "REBAL_SETTLEMENT_CYCLE_DAYS": "0",
    "REBAL_SETTLEMENT_SWEEP_SECONDS": "0.5",
    "REBAL_DRIFT_SWEEP_ENABLED": "false",
    "REBAL_NIGHTLY_ENABLED": "false",
    "REBAL_MAX_PRICE_AGE_SECONDS": "86400",
    "REBAL_LOG_LEVEL": "WARNING",
    "REBAL_LOG_FORMAT": "json",
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m rebal_demo", description=__doc__)
    p.add_argument("--portfolios", type=int, default=int(os.environ.get("DEMO_PORTFOLIOS", "1000")))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=Path("demo-output"))
    p.add_argument("--phase-timeout", type=float, default=900.0)
    p.add_argument(
        "--keep",
        action="store_true",
        help="after the day, keep the stack and its dashboard up until Ctrl-C",
    )
    p.add_argument(
        "--window",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="start the order-router's clock just before a 09:30 New York opening, so the first "
        "runs queue for the window (default: on)",
    )
    return p.parse_args(argv)


async def run(args: argparse.Namespace, bootstrap: str, console: Console) -> int:
    plans = plan_portfolios(args.portfolios, args.seed)
    with Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs completed"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=max(total, 1))
            bar.update(tasks[phase], completed=done, total=max(total, done, 1))

        async with Driver(
            bootstrap, plans, DemoOptions(phase_timeout=args.phase_timeout), progress
        ) as driver:
            await driver.setup()
            await driver.funding()
            await driver.market_move()
            await driver.withdrawals()
    client = driver.client
    after = render(client, driver.plans, console, driver.phase_seconds)
    png = chart(client, driver.plans, after, args.out / "drift.png")
    console.print(f"chart: {png}")
    missing = sorted(set(client.readies) - set(client.completed))
    problems = []
    if missing:
        problems.append(
            f"{len(missing)} ready optimizations without run.completed (e.g. {missing[:3]})"
        )
    if client.dead_letters:
        problems.append(
            f"{len(client.dead_letters)} messages went to dead.letter: {client.dead_letters[0].reason[:200]}"
        )
    if not client.completed:
        problems.append("no run completed at all")
    for problem in problems:
        console.print(f"[red]FAILED[/red]: {problem}")
    if not problems:
        console.print(
            f"[green]OK[/green]: every one of {len(client.readies)} ready optimizations completed exactly once"
        )
    return 1 if problems else 0


def window_opening_soon(lead: timedelta = timedelta(seconds=45)) -> dict[str, str]:
    """The order-router alone on New York's real calendar, its clock started `lead` before a
    session's 09:30 opening: the first runs of the day are QUEUED and start at the open."""
    from rebal_runtime.calendar import NEW_YORK, trading_calendar

    calendar = trading_calendar("XNYS")
    today = datetime.now(NEW_YORK).date()
    session = today if calendar.is_session(today) else calendar.previous_session(today)
    opening = datetime.combine(session, dtime(9, 30), NEW_YORK)
    return {
        "REBAL_TRADING_CALENDAR": "XNYS",
        "REBAL_CLOCK_START_AT": (opening - lead).isoformat(),
    }


def main(argv: list[str] | None = None) -> int:
    from rebal_runtime.stack import Stack
    from rebal_runtime.topics_admin import ensure_topics

    args = parse(argv)
    console = Console(width=132)
    console.print(
        f"[bold]rebal demo[/bold]: {args.portfolios} portfolios over {len(FLOWS)} process flows; "
        "T+0 settlement (demo configuration); "
        + (
            "the order-router's clock starts 45 s before a 09:30 New York opening, so the first "
            "runs queue for the window."
            if args.window
            else "the trading window open all day."
        )
    )
    stack = Stack(
        Path("var/demo") / time.strftime("%Y%m%d-%H%M%S"),
        overrides=DEMO_ENVIRONMENT,
        service_overrides={"order-router": window_opening_soon()} if args.window else {},
    )
    stack.start(echo=False)
    console.print(
        f"stack: Kafka {stack.kafka.bootstrap_servers}, {', '.join(p.name for p in stack.processes)}; logs in {stack.var_dir}"
    )
    try:
        stack.wait_ready()
        asyncio.run(ensure_topics(stack.kafka.bootstrap_servers))
        code = asyncio.run(run(args, stack.kafka.bootstrap_servers, console))
        dashboard_screenshots(stack, args, console)
        if args.keep:
            keep_up(stack, console)
        return code
    finally:
        stack.stop()


def dashboard_screenshots(stack: Stack, args: argparse.Namespace, console: Console) -> None:
    """A screenshot of each page of the api's dashboard into `--out` (headless chromium)."""
    from rebal_demo.browser import available, screenshots

    why = available()
    if why is not None:
        console.print(f"dashboard screenshots: skipped ({why})")
        return
    plans = plan_portfolios(args.portfolios, args.seed)
    shown = next((p for p in plans if p.cohort == "drifter"), plans[0] if plans else None)
    written = screenshots(
        stack.api_url,
        stack.api_key,
        stack.api_secret,
        args.out,
        shown.portfolio_id if shown else None,
    )
    console.print(f"dashboard screenshots: {', '.join(str(p) for p in written)}")


def keep_up(stack: Stack, console: Console) -> None:
    console.print(f"dashboard: {stack.dashboard_url}")
    console.print(
        f"api key: {stack.api_key}  secret: {stack.api_secret}  (HTTP Basic; also in "
        f"{stack.api_credentials_file})"
    )
    console.print("the stack stays up: Ctrl-C stops it")
    try:
        while all(p.process is None or p.process.poll() is None for p in stack.processes):
            time.sleep(1)
        console.print("[red]a process of the stack exited[/red]; stopping")
    except KeyboardInterrupt:
        console.print("stopping...")


if __name__ == "__main__":
    sys.exit(main())
