"""Which loop a rebal process runs on: uvloop by default, asyncio's on request."""

from __future__ import annotations

import asyncio

import pytest
import uvloop

from rebal_runtime import event_loop


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_a_process_runs_on_uvloop_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(event_loop.ENV, raising=False)
    assert event_loop.loop_factory()[0] == "uvloop"
    assert issubclass(event_loop.run(_loop_type()), uvloop.Loop)


def test_the_standard_loop_is_chosen_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(event_loop.ENV, "asyncio")
    ran_on = event_loop.run(_loop_type())
    assert not issubclass(ran_on, uvloop.Loop)
    assert issubclass(ran_on, asyncio.BaseEventLoop)


def test_run_returns_what_the_coroutine_returns() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert event_loop.run(answer(), choice="uvloop") == 42
    assert event_loop.run(answer(), choice="asyncio") == 42


def test_an_unknown_loop_name_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, uvloop or asyncio"):
        event_loop.loop_factory("trio")
