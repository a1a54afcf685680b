"""Inventory: what a repository already has for performance work, found by reading files only.

``scan_repo(root)`` looks for the test command (pytest config, tox, nox, Makefile targets),
benchmark suites (pytest-benchmark use, asv.conf.json, pyperf scripts, ``benchmarks/`` folders),
CI workflows that run tests or benchmarks, result files (``.benchmarks/``, pyperf and hyperfine
JSON exports), profilers and feature-flag libraries among the dependencies. It never runs anything
from the repo.
Prior perfop runs come from the store and are added by the service.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROFILERS = (
    "py-spy",
    "pyinstrument",
    "memray",
    "scalene",
    "line-profiler",
    "line_profiler",
    "yappi",
    "austin-dist",
    "viztracer",
    "snakeviz",
    "pprofile",
    "memory-profiler",
    "memory_profiler",
)
FEATURE_FLAG_LIBS = (
    "launchdarkly-server-sdk",
    "flagsmith",
    "unleash-client",
    "UnleashClient",
    "django-waffle",
    "flipper-client",
    "growthbook",
    "openfeature-sdk",
    "configcat-client",
    "featureflags",
    "django-flags",
    "posthog",
    "split-io",
    "splitio_client",
)
_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    ".perfop",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "build",
    "dist",
    "site-packages",
}
_MAX_FILES = 5000
_TEST_RE = re.compile(r"\b(pytest|tox|nox|unittest|make\s+test|hatch\s+(run\s+)?test)\b")
_BENCH_RE = re.compile(
    r"\b(pytest-benchmark|--benchmark|asv\s+(run|continuous)|pyperf|hyperfine|"
    r"benchmarks?/|perfop\s+(gate|record|run))\b"
)


@dataclass(frozen=True)
class Finding:
    """One thing found: what kind, where (path relative to the repo) and a detail."""

    kind: str
    path: str
    detail: str = ""


@dataclass(frozen=True)
class Inventory:
    """The result of a scan, grouped by category."""

    test_commands: tuple[Finding, ...] = ()
    benchmark_suites: tuple[Finding, ...] = ()
    ci_workflows: tuple[Finding, ...] = ()
    result_files: tuple[Finding, ...] = ()
    profilers: tuple[Finding, ...] = ()
    feature_flags: tuple[Finding, ...] = ()
    perfop_runs: tuple[Finding, ...] = field(default_factory=tuple)

    CATEGORIES = (
        "test_commands",
        "benchmark_suites",
        "ci_workflows",
        "result_files",
        "profilers",
        "feature_flags",
        "perfop_runs",
    )

    def to_dict(self) -> dict[str, Any]:
        return {k: [asdict(f) for f in getattr(self, k)] for k in self.CATEGORIES}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Inventory:
        return cls(**{k: tuple(Finding(**f) for f in doc.get(k, [])) for k in cls.CATEGORIES})

    def rows(self) -> Iterator[tuple[str, Finding]]:
        for k in self.CATEGORIES:
            for f in getattr(self, k):
                yield k, f


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS or d == ".benchmarks")
        for name in sorted(filenames):
            out.append(Path(dirpath) / name)
            if len(out) >= _MAX_FILES:
                return out
    return out


def _read(path: Path, limit: int = 200_000) -> str:
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            return fh.read(limit)
    except OSError:
        return ""


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _dependencies(root: Path) -> dict[str, str]:
    """Dependency name (lower-case) -> file it is declared in."""
    deps: dict[str, str] = {}
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(_read(pyproject))
        except tomllib.TOMLDecodeError:
            data = {}
        project = data.get("project", {})
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs.extend(extra)
        for group in data.get("dependency-groups", {}).values():
            specs.extend(s for s in group if isinstance(s, str))
        poetry = data.get("tool", {}).get("poetry", {})
        specs.extend(poetry.get("dependencies", {}).keys())
        specs.extend(poetry.get("dev-dependencies", {}).keys())
        for spec in specs:
            deps.setdefault(_dep_name(str(spec)), "pyproject.toml")
    for req in sorted(root.glob("requirements*.txt")) + sorted(root.glob("requirements/*.txt")):
        for line in _read(req).splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                deps.setdefault(_dep_name(line), _rel(req, root))
    for name in ("setup.cfg", "setup.py"):
        text = _read(root / name)
        for dep in re.findall(r"[\"']?([A-Za-z0-9_.\-]+)\s*(?:[<>=!~;\[]|[\"'])", text):
            if dep.lower() in {
                *(p.lower() for p in PROFILERS),
                *(f.lower() for f in FEATURE_FLAG_LIBS),
            }:
                deps.setdefault(dep.lower(), name)
    return deps


def _dep_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._\-]*)", spec)
    return match.group(1).lower().replace("_", "-") if match else spec.lower()


# A session or environment that runs the tests (not lint, docs, typing, build ...).
_TESTY = re.compile(r"^(tests?|unit|pytest|check|py\d*|test[-_].*|.*[-_]tests?)$", re.I)
# ``@nox.session`` with or without arguments (which may span lines), other decorators, then def.
_NOX_SESSION = re.compile(
    r"@nox\.session\b(?P<args>\((?:[^()]|\([^()]*\))*\))?\s*(?:@[^\n]*\n\s*)*"
    r"def\s+(?P<fn>\w+)",
    re.S,
)


def nox_sessions(text: str) -> list[str]:
    """The session names a noxfile defines (``name=`` when given, else the function's)."""
    names = []
    for m in _NOX_SESSION.finditer(text):
        named = re.search(r"\bname\s*=\s*['\"]([^'\"]+)['\"]", m.group("args") or "")
        names.append(named.group(1) if named else m.group("fn"))
    return list(dict.fromkeys(names))


def _uses_unittest(root: Path) -> bool:
    """Test files that import unittest (and no pytest configuration): ``python -m unittest``."""
    for folder in (root / "tests", root / "test", root):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("test*.py"))[:50]:
            if re.search(r"^\s*(import unittest|from unittest import)", _read(path), re.M):
                return True
    return False


def installed_profilers() -> list[Finding]:
    """The profilers perfop can run here: py-spy on PATH, pyinstrument and memray importable."""
    import importlib.util
    import shutil
    import sys

    found = []
    # Where perfop's py-spy backend looks: PATH, then beside perfop's interpreter.
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy:
        found.append(Finding("installed", spy, "py-spy"))
    for module in ("pyinstrument", "memray"):
        spec = importlib.util.find_spec(module)
        if spec is not None:
            found.append(Finding("installed", str(spec.origin or module), module))
    return found


def _test_commands(root: Path) -> list[Finding]:
    found: list[Finding] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and "[tool.pytest" in _read(pyproject):
        found.append(Finding("pytest", "pyproject.toml", "python -m pytest"))
    for name in ("pytest.ini", "setup.cfg", "tox.ini"):
        text = _read(root / name)
        if "[pytest]" in text or "[tool:pytest]" in text:
            found.append(Finding("pytest", name, "python -m pytest"))
    if (root / "conftest.py").is_file() and not any(f.kind == "pytest" for f in found):
        found.append(Finding("pytest", "conftest.py", "python -m pytest"))
    tox = _read(root / "tox.ini")
    if "[tox]" in tox or "[testenv" in tox:
        envs = re.findall(r"^\[testenv:([^\]]+)\]", tox, flags=re.M)
        found.append(
            Finding("tox", "tox.ini", "tox" + (f" (envs: {', '.join(envs)})" if envs else ""))
        )
    if (root / "noxfile.py").is_file():
        sessions = nox_sessions(_read(root / "noxfile.py"))
        tests = [x for x in sessions if _TESTY.search(x)]
        detail = f"nox -s {tests[0]}" if tests else "nox"
        if sessions:
            detail += f" (sessions: {', '.join(sessions)})"
        found.append(Finding("nox", "noxfile.py", detail))
    if not any(f.kind == "pytest" for f in found) and _uses_unittest(root):
        found.append(Finding("unittest", "tests/", "python -m unittest"))
    make = _read(root / "Makefile")
    for target in re.findall(
        r"^([A-Za-z0-9_.\-]*(?:test|check|bench)[A-Za-z0-9_.\-]*)\s*:", make, re.M
    ):
        found.append(Finding("make", "Makefile", f"make {target}"))
    return found


def _benchmarks(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    asv = root / "asv.conf.json"
    if asv.is_file():
        found.append(Finding("asv", "asv.conf.json", "airspeed velocity suite"))
    seen_dirs: set[str] = set()
    for path in files:
        rel = _rel(path, root)
        parts = rel.split("/")
        for i, part in enumerate(parts[:-1]):
            if (
                part in ("benchmarks", "benchmark", "bench")
                and "/".join(parts[: i + 1]) not in seen_dirs
            ):
                seen_dirs.add("/".join(parts[: i + 1]))
                found.append(Finding("benchmarks-folder", "/".join(parts[: i + 1]), "folder"))
        if path.suffix != ".py":
            continue
        text = _read(path, 100_000)
        if re.search(r"def test_\w+\([^)]*\bbenchmark\b", text) or "pytest_benchmark" in text:
            found.append(Finding("pytest-benchmark", rel, "uses the benchmark fixture"))
        if re.search(r"^\s*import pyperf|^\s*from pyperf", text, re.M) and "Runner(" in text:
            found.append(Finding("pyperf", rel, "pyperf.Runner script"))
    return found


def _workflows(root: Path) -> list[Finding]:
    found: list[Finding] = []
    wf_dir = root / ".github" / "workflows"
    if not wf_dir.is_dir():
        return found
    import yaml

    for path in sorted([*wf_dir.glob("*.yml"), *wf_dir.glob("*.yaml")]):
        try:
            doc = yaml.safe_load(_read(path))
        except yaml.YAMLError:
            found.append(Finding("workflow-unparsable", _rel(path, root), "invalid YAML"))
            continue
        jobs = doc.get("jobs", {}) if isinstance(doc, dict) else {}
        for job_id, job in (jobs or {}).items():
            steps = job.get("steps", []) if isinstance(job, dict) else []
            runs = " ".join(str(s.get("run", "")) for s in steps if isinstance(s, dict))
            kinds = []
            if _TEST_RE.search(runs):
                kinds.append("tests")
            if _BENCH_RE.search(runs):
                kinds.append("benchmarks")
            if kinds:
                found.append(
                    Finding("workflow-job", _rel(path, root), f"{job_id}: {'+'.join(kinds)}")
                )
    return found


def _result_files(root: Path, files: list[Path]) -> list[Finding]:
    found: list[Finding] = []
    for path in files:
        rel = _rel(path, root)
        if rel.startswith(".benchmarks/") and path.suffix == ".json":
            found.append(Finding("pytest-benchmark-result", rel))
            continue
        if (
            path.suffix != ".json"
            or path.name == "asv.conf.json"
            or path.stat().st_size > 20_000_000
        ):
            continue
        head = _read(path, 4000)
        if (
            '"benchmarks"' in head
            and ('"metadata"' in head or '"version"' in head)
            and ('"runs"' in head or ('"benchmarks": [' in head and "pyperf" in head))
        ):
            found.append(Finding("pyperf-result", rel))
        elif '"results"' in head and '"command"' in head and '"mean"' in head:
            try:
                doc = json.loads(_read(path))
            except json.JSONDecodeError:
                continue
            results = doc.get("results") if isinstance(doc, dict) else None
            if isinstance(results, list) and results and "command" in results[0]:
                found.append(Finding("hyperfine-result", rel, f"{len(results)} command(s)"))
        elif '"machine_info"' in head and '"benchmarks"' in head:
            found.append(Finding("pytest-benchmark-result", rel))
    return found


def scan_repo(root: Path) -> Inventory:
    """Scan ``root`` (read-only) and return what was found."""
    root = root.resolve()
    files = _walk(root)
    deps = _dependencies(root)
    prof = {p.lower().replace("_", "-") for p in PROFILERS}
    flags = {f.lower().replace("_", "-") for f in FEATURE_FLAG_LIBS}
    return Inventory(
        test_commands=tuple(_test_commands(root)),
        benchmark_suites=tuple(_benchmarks(root, files)),
        ci_workflows=tuple(_workflows(root)),
        result_files=tuple(_result_files(root, files)),
        profilers=(
            *(
                Finding("dependency", src, name)
                for name, src in sorted(deps.items())
                if name in prof
            ),
            *installed_profilers(),
        ),
        feature_flags=tuple(
            Finding("dependency", src, name) for name, src in sorted(deps.items()) if name in flags
        ),
    )
