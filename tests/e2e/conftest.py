"""The whole embedded stack as separate processes (Tansu, simulator, four services), once per module."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from rebal_demo.__main__ import DEMO_ENVIRONMENT

from rebal_runtime.stack import Stack
from rebal_runtime.testing.pytest_plugin import stack_kafka


@contextmanager
def running_stack(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    name: str = "stack",
    *,
    only: tuple[str, ...] | None = None,
    overrides: dict[str, str] | None = None,
    service_overrides: dict[str, dict[str, str]] | None = None,
) -> Iterator[Stack]:
    """The embedded stack (or the processes `only` names) on the demo's settings, on the session's
    broker (`--kafka-broker`: Apache Kafka or Tansu), ready; stopped on the way out."""
    running = Stack(
        tmp_path_factory.mktemp(name),
        overrides={**DEMO_ENVIRONMENT, **(overrides or {})},
        kafka=stack_kafka(request.config),
        service_overrides=service_overrides or {},
    )
    running.start(echo=False, only=only)
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    with running_stack(tmp_path_factory, request) as running:
        yield running


def logs(stack: Stack) -> str:
    return "\n".join(
        f"--- {p.name}\n" + (Path(stack.var_dir) / f"{p.name}.log").read_text()[-3000:]
        for p in stack.processes
        if (Path(stack.var_dir) / f"{p.name}.log").exists()
    )
