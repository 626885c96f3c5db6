"""Run the whole-stack suites N times in a row; report every test that failed at least once.

A test that fails by chance fails CI for everyone, so this is run before a submission:
`make test-repeat` (N=5 by default; `make test-repeat REPEAT=10 PYTEST_ARGS=...`).
Each run writes a JUnit report under var/test-repeat/; the table counts failures per test.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

SUITES = (
    "tests/e2e",
    "tests/prodlike",
    "services/optimizer/tests/integration",
    "services/order-router/tests/integration",
    "services/order-router/tests/e2e",
    "services/settlement-tracker/tests/integration",
    "services/settlement-tracker/tests/e2e",
    "services/scheduler/tests/integration",
    "services/scheduler/tests/e2e",
    "services/broker-simulator/tests/integration",
    "services/api/tests/integration",
    "services/api/tests/e2e",
    "libs/runtime/tests/integration",
)


def outcomes(report: Path) -> dict[str, str]:
    """test id -> passed | failed | skipped, from one JUnit report."""
    result: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            result[test_id] = "failed"
        elif case.find("skipped") is not None:
            result[test_id] = "skipped"
        else:
            result[test_id] = "passed"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("var/test-repeat"))
    args, pytest_args = parser.parse_known_args()  # the rest goes to pytest as it is
    args.out.mkdir(parents=True, exist_ok=True)
    failed: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    durations = []
    for run in range(1, args.repeat + 1):
        report = args.out / f"run-{run}.xml"
        started = time.monotonic()
        print(f"== run {run}/{args.repeat}", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--junitxml={report}",
                *SUITES,
                *pytest_args,
            ],
            check=False,
        )
        durations.append(time.monotonic() - started)
        if not report.exists():
            print(f"run {run}: pytest wrote no report (collection error?)")
            return 2
        for test_id, outcome in outcomes(report).items():
            seen[test_id] += 1
            if outcome == "failed":
                failed[test_id] += 1
        print(
            f"== run {run}: {durations[-1]:.0f} s, failures so far: {sum(failed.values())}",
            flush=True,
        )
    print(f"\n{len(seen)} tests x {args.repeat} runs, {sum(durations) / 60:.1f} min in all")
    if not failed:
        print(f"no test failed in {args.repeat} of {args.repeat} runs")
        return 0
    width = max(len(t) for t in failed)
    print(f"{'test':<{width}}  failed")
    for test_id, count in failed.most_common():
        print(f"{test_id:<{width}}  {count}/{args.repeat}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
