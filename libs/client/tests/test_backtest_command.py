"""`rebal backtest`: the optimizer's backtest in a child process, its options forwarded and its
exit code returned; a clear refusal where the optimizer is not installed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from rebal_client.cli import main


def test_it_runs_the_backtest_and_prints_the_tables_and_the_ratios(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    code = main(["backtest", "--days", "40", "--seeds", "7", "--out", str(tmp_path)])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "normal-7: 40 trading days, balanced model, production rules" in out
    assert "crash: 40 trading days" in out
    assert "short-term $" in out
    assert "turnover over every scenario, against alpaca (to target): " in out
    assert (tmp_path / "policies-crash.png").is_file()


def test_the_backtests_exit_code_and_message_come_back(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    prices = tmp_path / "bad.csv"
    prices.write_text("date,symbol,close\n2026-01-05,SPY,-1\n")
    assert main(["backtest", "--days", "5", "--prices", str(prices)]) == 2
    assert "bad.csv line 2: close '-1' must be a positive finite number" in capfd.readouterr().err


def test_its_help_is_the_backtests(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["backtest", "--help"]) == 0
    out = capfd.readouterr().out
    for option in ("--days", "--seeds", "--prices", "--initial", "--deposit", "--out", "--lots"):
        assert option in out


def test_without_the_optimizer_it_exits_2_naming_the_package(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, package=None: None)
    assert main(["backtest", "--days", "40"]) == 2
    err = capsys.readouterr().err
    assert "rebal_optimizer.entrypoints.backtest" in err
    assert "pip install 'rebal-optimizer[backtest]'" in err


def test_the_lookup_finds_the_module_without_importing_the_optimizer() -> None:
    """In a fresh interpreter (this one may have imported the optimizer for other tests)."""
    probe = (
        "import sys; from rebal_client.backtest import installed; "
        "print(installed(), installed('rebal_optimizer.entrypoints.no_such_module'), "
        "installed('no_such_package.backtest'), 'rebal_optimizer' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "False", "False", "False"]


def test_rebal_help_lists_backtest(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "backtest" in capsys.readouterr().out


def test_other_commands_still_refuse_options_they_do_not_know() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--dry-run", "deposit", "pf-1", "10", "--days", "40"])
    assert exited.value.code == 2
