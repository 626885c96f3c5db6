"""The committed AsyncAPI documents are what the services generate now (`make asyncapi`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_committed_asyncapi_documents_are_current(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_asyncapi", ROOT / "scripts" / "gen_asyncapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_asyncapi"] = module
    spec.loader.exec_module(module)
    module.main(tmp_path)
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == sorted(p.name for p in (ROOT / "docs" / "asyncapi").iterdir())
    assert {
        "optimizer.json",
        "order-router.json",
        "settlement-tracker.json",
        "scheduler.json",
    } <= set(fresh)
    for name in fresh:
        assert (tmp_path / name).read_text() == (ROOT / "docs" / "asyncapi" / name).read_text(), (
            f"docs/asyncapi/{name} is stale: run `make asyncapi`"
        )
