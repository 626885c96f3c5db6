"""docs/rules.md points at code that exists; docs/design.md keeps the section numbers code cites.

Every row of the rules table names one or more places as `` `path` · `name` ``: the path must be
a file of the repository and `name` a top-level function or class of it, or `Class.method` (a
method, property included, defined in that class's body).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "docs" / "rules.md"
DESIGN = ROOT / "docs" / "design.md"

HEADER = "| rule | what it says | where (file · function) |"
PLACE = re.compile(
    r"`(?P<path>[^`\s]+\.py)` · `(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?)`"
)
SEPARATOR = "<br>"
DESIGN_SECTIONS = (
    "1. Services and what each owns",
    "2. Topics",
    "3. The domain",
    "4. Delivery: nothing lost, nothing done twice",
    "5. Where it runs",
    "6. Libraries",
)
# Rules the issue (#12 item 6) asks to find in under a minute: each must have a row.
REQUIRED_RULES = (
    "cooldown",
    "first funding",
    "invest-cash threshold",
    "drift band",
    "daily limit",
    "roll back",
    "client_order_id",
    "run status",
    "settlement date",
    "unblock",
)


def split_row(line: str) -> list[str]:
    """Cells of a markdown table row; `\\|` inside a cell is an escaped pipe, not a border."""
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [cell.strip() for cell in cells[1:-1]]


def table_rows() -> list[tuple[str, str]]:
    """(rule, where cell) of every data row of the rules table."""
    lines = RULES.read_text(encoding="utf-8").splitlines()
    start = lines.index(HEADER)
    rows: list[tuple[str, str]] = []
    for line in lines[start + 2 :]:  # skip the header and the |---| line
        if not line.startswith("|"):
            break
        cells = split_row(line)
        assert len(cells) == 3, f"a rules row needs 3 cells, got {len(cells)}: {line[:80]}"
        rows.append((cells[0], cells[2]))
    return rows


def places(cell: str) -> list[tuple[str, str]]:
    """The (path, name) pairs of a where cell; the cell must hold nothing else."""
    found = []
    for part in cell.split(SEPARATOR):
        match = PLACE.fullmatch(part.strip())
        assert match, f"not `path` · `name`: {part.strip()!r}"
        found.append((match["path"], match["name"]))
    return found


@cache
def definitions(path: str) -> dict[str, set[str] | None]:
    """Top-level functions (None) and classes (the names defined in their body) of a file."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    defined: dict[str, set[str] | None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defined[node.name] = None
        elif isinstance(node, ast.ClassDef):
            defined[node.name] = {
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            }
    return defined


ROWS = table_rows()
PLACES = sorted({place for _, cell in ROWS for place in places(cell)})


def test_the_table_has_rows() -> None:
    assert len(ROWS) >= 30
    assert len({rule for rule, _ in ROWS}) == len(ROWS), "a rule appears twice"


@pytest.mark.parametrize("rule", REQUIRED_RULES)
def test_every_rule_of_the_issue_has_a_row(rule: str) -> None:
    assert any(rule in name.lower() for name, _ in ROWS), f"no row for {rule!r}"


@pytest.mark.parametrize(("path", "name"), PLACES, ids=[f"{p}::{n}" for p, n in PLACES])
def test_place_exists(path: str, name: str) -> None:
    file = ROOT / path
    assert file.is_file(), f"{path} does not exist"
    assert file.resolve().is_relative_to(ROOT), f"{path} is outside the repository"
    defined = definitions(path)
    owner, _, method = name.partition(".")
    assert owner in defined, f"{path} defines no top-level function or class {owner!r}"
    if method:
        members = defined[owner]
        assert members is not None, f"{owner} in {path} is a function, not a class"
        assert method in members, f"class {owner} in {path} has no method {method!r}"


def test_design_keeps_its_six_numbered_sections() -> None:
    headings = re.findall(r"^## (\d+)\. (.+)$", DESIGN.read_text(encoding="utf-8"), re.M)
    assert [f"{n}. {title}" for n, title in headings] == list(DESIGN_SECTIONS)


def test_design_points_nowhere_outside_the_repository() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    for outside in ("seeds/", "reference/", "/work/", "shared/DESIGN", "kafka-reliability-notes"):
        assert outside not in text, f"docs/design.md still cites {outside!r}"
