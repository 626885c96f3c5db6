"""The `rebal` reads over the api's HTTP (`rebal runs`, `rebal show`, `rebal optimization`):
where the api is and who to be there, and the requests (the tables: `api_tables`).

Where: `--api URL`, else `REBAL_API_URL` from `--api-env FILE` (the stack's `var/dev/api.env`)
or the environment, else `http://127.0.0.1:8000` (compose). Who: `REBAL_API_KEY` and
`REBAL_API_SECRET`, from the same file or the environment (HTTP Basic; never an argument, which
every user of the machine could read, never printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from rich.console import Console

from rebal_client import api_tables

DEFAULT_URL = "http://127.0.0.1:8000"
Json = dict[str, Any]


class ApiUnavailable(Exception):
    """The api could not be asked, or answered with an error (its message)."""


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (what `make dev` writes); blank lines and `#` comments skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ApiUnavailable(f"cannot read {path}: {exc.strerror}") from None
    found = {}
    for line in lines:
        name, sep, value = line.strip().partition("=")
        if sep and name and not name.startswith("#"):
            found[name.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return found


@dataclass(frozen=True)
class ApiConnection:
    url: str
    key: str
    secret: str = field(repr=False)  # a secret: kept out of repr and logs

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        env_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ApiConnection:
        values = {**(os.environ if env is None else env)}
        if env_file is not None:
            values.update(read_env_file(env_file))
        key, secret = values.get("REBAL_API_KEY"), values.get("REBAL_API_SECRET")
        if not key or not secret:
            raise ApiUnavailable(
                "REBAL_API_KEY and REBAL_API_SECRET must be set (or --api-env var/dev/api.env)"
            )
        return cls(url or values.get("REBAL_API_URL") or DEFAULT_URL, key, secret)

    def client(self, transport: httpx.BaseTransport | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, auth=(self.key, self.secret), transport=transport, timeout=10.0
        )


def get(client: httpx.Client, path: str, params: Mapping[str, Any] | None = None) -> Any:
    """The JSON of a GET, or `ApiUnavailable` with the api's own message."""
    query = {k: v for k, v in (params or {}).items() if v is not None}
    try:
        answer = client.get(path, params=query)
    except httpx.HTTPError as exc:
        raise ApiUnavailable(f"api at {client.base_url} not reachable: {exc}") from None
    if answer.is_success:
        return answer.json()
    try:
        message = answer.json().get("message", answer.text)
    except ValueError:
        message = answer.text
    raise ApiUnavailable(f"{answer.status_code}: {message}")


def runs(
    client: httpx.Client,
    *,
    status: str | None = None,
    account: str | None = None,
    run_type: str | None = None,
    limit: int = 50,
) -> list[Json]:
    """Newest first, at most `limit`, following the api's pages."""
    found: list[Json] = []
    token: str | None = None
    while len(found) < limit:
        page = get(
            client,
            "/v1/rebalancing/runs",
            {
                "status": status,
                "account_id": account,
                "type": run_type,
                "limit": min(500, limit - len(found)),
                "page_token": token,
            },
        )
        found += page["runs"]
        token = page.get("next_page_token")
        if not token:
            break
    return found[:limit]


def _read(a: argparse.Namespace, transport: httpx.BaseTransport | None) -> Any:
    """What a read command asks the api, and how it prints as a table."""
    with ApiConnection.resolve(a.api, a.api_env).client(transport) as client:
        if a.command == "runs":
            found = runs(
                client, status=a.status, account=a.account, run_type=a.run_type, limit=a.limit
            )
            return found, api_tables.runs_table(found)
        base = f"/v1/portfolios/{quote(a.portfolio_id, safe='')}"
        if a.command == "show":
            body = get(client, base)
            return body, api_tables.portfolio_view(body)
        if a.list:
            body = get(client, base + "/optimizations", {"limit": a.limit})
            return body, api_tables.optimizations_table(body["optimizations"])
        body = get(client, base + "/optimizations/latest")
        return body, api_tables.optimization_view(body)


READS = ("runs", "show", "optimization")


def read(a: argparse.Namespace, transport: httpx.BaseTransport | None = None) -> int:
    try:
        body, table = _read(a, transport)
    except ApiUnavailable as exc:
        print(f"rebal: {exc}", file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(body, indent=2))
    else:
        Console().print(table)
    return 0
