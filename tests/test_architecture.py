"""Structural rules: services never import each other; domains do no I/O and read no clock."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = {
    "optimizer": "rebal_optimizer",
    "order-router": "rebal_order_router",
    "settlement-tracker": "rebal_settlement_tracker",
    "scheduler": "rebal_scheduler",
    "broker-simulator": "rebal_broker_sim",
}
FORBIDDEN_IN_DOMAIN = {
    "asyncio",
    "aiokafka",
    "faststream",
    "aiosqlite",
    "pymongo",
    "httpx",
    "sqlite3",
    "socket",
    "requests",
    "starlette",
    "uvicorn",
    "rebal_runtime",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(service: str, sub: str = "") -> list[Path]:
    return sorted(
        (ROOT / "services" / service / "src" / SERVICE_PACKAGES[service] / sub).rglob("*.py")
    )


@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_services_never_import_each_other(service: str) -> None:
    others = {pkg for name, pkg in SERVICE_PACKAGES.items() if name != service}
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(service)
        for name in imports_of(path)
        if name.split(".")[0] in others
    ]
    assert offenders == []


@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_domain_is_pure(service: str) -> None:
    offenders = []
    for path in python_files(service, "domain"):
        for name in imports_of(path):
            if name.split(".")[0] in FORBIDDEN_IN_DOMAIN:
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
        source = path.read_text()
        for call in ("datetime.now(", "date.today(", "time.time(", "datetime.utcnow("):
            if call in source:
                offenders.append(f"{path.relative_to(ROOT)} calls {call})")
        if re.search(r"(?<![.\w])open\(", source):
            offenders.append(f"{path.relative_to(ROOT)} opens files")
        # Abstract ports may declare `async def` signatures; the domain itself never awaits.
        if re.search(r"\bawait\b", source):
            offenders.append(f"{path.relative_to(ROOT)} awaits")
    assert offenders == []
