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
    "api": "rebal_api",
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


# Service layers depend on ports (their own, the runtime's); the adapters implementing them are
# wired in by the bootstrap. The optimizer is checked by its own test while it is restructured.
LAYERED_SERVICES = ("order-router", "settlement-tracker", "scheduler", "api")
FORBIDDEN_IN_ANY_DOMAIN = {"rebal_schemas", "pydantic"}
# Domain modules still importing one of those, to be emptied by the optimizer's restructuring
# (the only service allowed an entry). Empty today: no domain imports either.
DOMAIN_SCHEMA_IMPORTS_ALLOWED: set[str] = set()


@pytest.mark.parametrize("service", LAYERED_SERVICES)
def test_service_layer_imports_no_adapters(service: str) -> None:
    adapters = f"{SERVICE_PACKAGES[service]}.adapters"
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(service, "service_layer")
        for name in imports_of(path)
        if name == adapters or name.startswith(adapters + ".")
    ]
    assert offenders == []


@pytest.mark.parametrize("service", sorted(SERVICE_PACKAGES))
def test_domain_imports_no_schemas_or_pydantic(service: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files(service, "domain")
        for name in imports_of(path)
        if name.split(".")[0] in FORBIDDEN_IN_ANY_DOMAIN
        and path.relative_to(ROOT).as_posix() not in DOMAIN_SCHEMA_IMPORTS_ALLOWED
    ]
    assert offenders == []


def test_domain_schema_allow_list_is_the_optimizers_only() -> None:
    assert all(p.startswith("services/optimizer/") for p in DOMAIN_SCHEMA_IMPORTS_ALLOWED)


def _optimizer_domain_graph() -> dict[str, set[str]]:
    """Domain module -> the domain modules it imports (any import, TYPE_CHECKING ones too; the
    package's `__init__` is the facade and not a node)."""
    domain = ROOT / "services" / "optimizer" / "src" / "rebal_optimizer" / "domain"
    modules = {path.stem for path in domain.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in sorted(modules):
        edges: set[str] = set()
        for node in ast.walk(ast.parse((domain / f"{name}.py").read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from rebal_optimizer.domain import evaluation` imports a module too
                targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            else:
                continue
            for target in targets:
                parts = target.split(".")
                inside = parts[:2] == ["rebal_optimizer", "domain"] and len(parts) == 3
                if inside and parts[2] in modules and parts[2] != name:
                    edges.add(parts[2])
        graph[name] = edges
    return graph


def test_optimizer_layers() -> None:
    """The optimizer's service layer reaches storage through its ports (implemented in adapters,
    wired in bootstrap.py), and its domain modules import each other one way only."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in python_files("optimizer", "service_layer")
        for name in imports_of(path)
        if name == "rebal_optimizer.adapters" or name.startswith("rebal_optimizer.adapters.")
    ]
    assert offenders == []

    graph = _optimizer_domain_graph()
    assert graph, "no optimizer domain modules found"
    cycles: list[str] = []
    state: dict[str, str] = {}  # "open" while on the DFS path, "done" after

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []
