"""The whole embedded stack as separate processes (Tansu, simulator, four services), once per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rebal_demo.__main__ import DEMO_ENVIRONMENT

from rebal_runtime.stack import Stack
from rebal_runtime.testing.pytest_plugin import stack_kafka


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """On the session's broker (`--kafka-broker`: Apache Kafka or Tansu)."""
    running = Stack(
        tmp_path_factory.mktemp("stack"),
        overrides=DEMO_ENVIRONMENT,
        kafka=stack_kafka(request.config),
    )
    running.start(echo=False)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


def logs(stack: Stack) -> str:
    return "\n".join(
        f"--- {p.name}\n" + (Path(stack.var_dir) / f"{p.name}.log").read_text()[-3000:]
        for p in stack.processes
        if (Path(stack.var_dir) / f"{p.name}.log").exists()
    )
