"""`python -m rebal_api.entrypoints.openapi [PATH]`: write the OpenAPI document of the api
(`docs/openapi/api.json`; a test fails when the committed one is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rebal_api.bootstrap import bootstrap
from rebal_api.settings import ApiSettings
from rebal_runtime.store import InMemoryStore

DEFAULT_PATH = Path("docs/openapi/api.json")


def document() -> dict[str, Any]:
    """Built from the routes alone: no store, broker or credentials of a deployment."""
    settings = ApiSettings(api_key="openapi", api_secret="openapi")
    spec: dict[str, Any] = bootstrap(settings, store=InMemoryStore()).http_app().openapi()
    return spec


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render())
    print(f"api: {path}")


if __name__ == "__main__":
    main()
