"""CPU of the broker simulator per submitted order: submit, its immediate fill, the SSE frames.

Starts `python -m rebal_broker_sim` as a subprocess (a fresh SQLite file), opens the trade-update
stream, sends `--orders` market orders from `--concurrency` aiohttp tasks (as the order-router
does), waits until the stream has delivered every order's `fill` update, and reads the
simulator's own CPU time (user + system, from /proc) around the burst. Wall-clock is reported
too, but on a shared machine only the CPU figure compares runs.

    .venv/bin/python bench/broker_sim/run.py --orders 3000 --repeat 3
    .venv/bin/python bench/broker_sim/run.py --sim-src /other/checkout/services/broker-simulator/src
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

SYMBOLS = ("AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META", "TSLA", "BRK.B")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _stream(session: aiohttp.ClientSession, url: str, want: int, ready: asyncio.Event) -> int:
    fills = 0
    async with session.get(f"{url}/v2/events/trades", timeout=aiohttp.ClientTimeout()) as resp:
        buffer = b""
        ready.set()
        async for chunk in resp.content.iter_any():
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                for line in frame.split(b"\n"):
                    if line.startswith(b"data: ") and json.loads(line[6:])["event"] == "fill":
                        fills += 1
            if fills >= want:
                return fills
    return fills


async def _submitter(
    session: aiohttp.ClientSession, url: str, queue: asyncio.Queue[int], run: str
) -> None:
    while True:
        try:
            i = queue.get_nowait()
        except asyncio.QueueEmpty:
            return
        body = {
            "symbol": SYMBOLS[i % len(SYMBOLS)],
            "qty": "1.5",
            "side": "buy" if i % 3 else "sell",
            "type": "market",
            "time_in_force": "day",
            "client_order_id": f"{run}-{i}",
        }
        path = f"{url}/v1/trading/accounts/acct-{i % 50}/orders"
        async with session.post(path, json=body) as resp:
            if resp.status != 200:
                raise RuntimeError(f"submit answered {resp.status}: {await resp.text()}")
            await resp.read()


async def _burst(
    url: str, pid: int, orders: int, concurrency: int, run: str
) -> tuple[float, float]:
    auth = base64.b64encode(b"sim-key:sim-secret").decode()
    headers = {"Authorization": f"Basic {auth}"}
    connector = aiohttp.TCPConnector(limit=concurrency + 1)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as session:
        ready = asyncio.Event()
        stream = asyncio.create_task(_stream(session, url, orders, ready))
        await ready.wait()
        await asyncio.sleep(0.2)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(orders):
            queue.put_nowait(i)
        cpu0, wall0 = _cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(_submitter(session, url, queue, run) for _ in range(concurrency)))
        await asyncio.wait_for(stream, 120)
        return _cpu_seconds(pid) - cpu0, time.perf_counter() - wall0


def _start(sim_src: str | None, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "port"
    env = dict(os.environ)
    if sim_src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [sim_src, env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "rebal_broker_sim", "--port", "0", "--port-file", str(port_file)]
    args += ["--db", str(workdir / "sim.sqlite")]
    args += [arg for s in SYMBOLS for arg in ("--price", f"{s}=123.45")]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the simulator did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{int(port_file.read_text())}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="bursts against one simulator")
    parser.add_argument("--sim-src", help="import rebal_broker_sim from this src directory")
    parser.add_argument(
        "--py-spy", type=Path, help="record the simulator with py-spy (collapsed stacks) here"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _start(args.sim_src, Path(tmp))
        try:
            asyncio.run(_burst(url, proc.pid, 200, args.concurrency, "warmup"))
            spy = None
            if args.py_spy:
                # py-spy's samples cost the shared cores: the CPU figures of such a run are
                # not comparable with a run without it.
                spy_cmd = ["py-spy", "record", "--pid", str(proc.pid), "--format", "raw"]
                spy_cmd += ["--rate", "250", "--output", str(args.py_spy), "--nonblocking"]
                spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL)
                time.sleep(1.0)
            for n in range(args.repeat):
                cpu, wall = asyncio.run(
                    _burst(url, proc.pid, args.orders, args.concurrency, f"run{n}")
                )
                print(
                    f"run {n}: {args.orders} orders, simulator CPU {cpu * 1e6 / args.orders:.0f}"
                    f" us/order, {args.orders / wall:.0f} orders/s (wall {wall:.2f} s)",
                    flush=True,
                )
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
