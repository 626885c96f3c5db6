"""`rebal backtest`: the optimizer's policy backtest, run in a child process. The CLI does not
depend on the optimizer (a client machine may not have it): it looks the entrypoint up without
importing it, forwards every option and exits with the child's code."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from collections.abc import Sequence

MODULE = "rebal_optimizer.entrypoints.backtest"
MISSING = (
    f"rebal backtest: the backtest is the optimizer's ({MODULE}), not installed with this "
    "Python: pip install 'rebal-optimizer[backtest]' (in the repository: make install)"
)


def installed(module: str = MODULE) -> bool:
    """Whether `module` can be run, found package by package from the top-level one's spec
    (`find_spec` of a dotted name would import its packages into this process)."""
    top, *parts = module.split(".")
    spec = importlib.util.find_spec(top)
    name = top
    for part in parts:
        if spec is None or spec.submodule_search_locations is None:
            return False
        name = f"{name}.{part}"
        spec = importlib.machinery.PathFinder.find_spec(name, list(spec.submodule_search_locations))
    return spec is not None


def run_backtest(options: Sequence[str]) -> int:
    """The backtest with `options` (its own: `rebal backtest --help` lists them); its exit code,
    2 when it is not installed."""
    if not installed():
        print(MISSING, file=sys.stderr)
        return 2
    try:
        return subprocess.run([sys.executable, "-m", MODULE, *options], check=False).returncode
    except KeyboardInterrupt:
        return 130
