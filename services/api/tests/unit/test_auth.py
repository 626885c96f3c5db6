"""HTTP Basic with the api's key and secret: the header the key and secret make is accepted at
once; any other is parsed and both parts compared (`entrypoints.auth`)."""

from __future__ import annotations

import base64

import httpx
import pytest

from .conftest import KEY, SECRET, Harness

PATH = "/v1/rebalancing/portfolios"


def basic(text: str, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {base64.b64encode(text.encode()).decode()}"}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (basic(f"{KEY}:{SECRET}"), 200),
        (basic(f"{KEY}:{SECRET}", scheme="basic"), 200),  # the scheme is case-insensitive
        ({"Authorization": f"Basic  {base64.b64encode(f'{KEY}:{SECRET}'.encode()).decode()}"}, 200),
        (basic(f"{KEY}:{SECRET}x"), 401),
        (basic(f"{KEY}x:{SECRET}"), 401),
        (basic(f"{SECRET}:{KEY}"), 401),
        (basic(f"{KEY}{SECRET}"), 401),  # no colon
        ({"Authorization": "Basic %%%"}, 401),  # not base64
        ({"Authorization": f"Bearer {SECRET}"}, 401),
        ({}, 401),
    ],
)
async def test_only_the_key_and_secret_pass(
    harness: Harness, headers: dict[str, str], status: int
) -> None:
    transport = harness.http._transport
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        answer = await client.get(PATH, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.json()["code"] == 40110000
