"""Inventory on a fixture repository that has one of everything: each item is found."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from perfop.cli import main
from perfop.engagement.inventory import scan_repo

PYPROJECT = """\
[project]
name = "demo"
dependencies = ["flagsmith>=3", "requests"]
[project.optional-dependencies]
dev = ["pytest", "pytest-benchmark", "py-spy>=0.3"]
[tool.pytest.ini_options]
testpaths = ["tests"]
"""
BENCH_TEST = """\
def test_parse_speed(benchmark):
    benchmark(sorted, [3, 1, 2])
"""
PYPERF_SCRIPT = """\
import pyperf

runner = pyperf.Runner()
runner.timeit("sort", "sorted(x)", setup="x = list(range(100))")
"""
WORKFLOW = """\
name: ci
on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: ruff check .
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m pytest -q
  bench:
    runs-on: ubuntu-latest
    steps:
      - run: asv run --quick
"""
HYPERFINE = {
    "results": [
        {
            "command": "python parse.py",
            "mean": 0.05,
            "stddev": 0.001,
            "median": 0.05,
            "user": 0.04,
            "system": 0.01,
            "min": 0.049,
            "max": 0.052,
            "times": [0.05, 0.051],
        }
    ]
}
PYPERF_JSON = {
    "version": "1.0",
    "metadata": {"name": "sort"},
    "benchmarks": [{"runs": [{"values": [0.1]}]}],
}
PYTEST_BENCH_JSON = {"machine_info": {"node": "x"}, "benchmarks": [{"name": "test_parse_speed"}]}


def make_fixture_repo(root: Path) -> Path:
    files = {
        "pyproject.toml": PYPROJECT,
        "tox.ini": "[tox]\nenvlist = py311\n[testenv:bench]\ncommands = pytest benchmarks\n",
        "Makefile": "test:\n\tpytest\nbench:\n\tpytest benchmarks\n",
        "asv.conf.json": json.dumps({"version": 1, "project": "demo"}),
        "benchmarks/test_bench_parse.py": BENCH_TEST,
        "bench_sort.py": PYPERF_SCRIPT,
        ".github/workflows/ci.yml": WORKFLOW,
        "results/hyperfine.json": json.dumps(HYPERFINE),
        "results/sort-pyperf.json": json.dumps(PYPERF_JSON),
        ".benchmarks/Linux-CPython-3.11-64bit/0001_base.json": json.dumps(PYTEST_BENCH_JSON),
        "src/demo/__init__.py": "",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_scan_finds_each_item(tmp_path: Path) -> None:
    inv = scan_repo(make_fixture_repo(tmp_path))
    tests = {(f.kind, f.path) for f in inv.test_commands}
    assert ("pytest", "pyproject.toml") in tests
    assert any(k == "tox" for k, _ in tests)
    assert {f.detail for f in inv.test_commands if f.kind == "make"} == {"make test", "make bench"}
    suites = {(f.kind, f.path) for f in inv.benchmark_suites}
    assert ("asv", "asv.conf.json") in suites
    assert ("pytest-benchmark", "benchmarks/test_bench_parse.py") in suites
    assert ("pyperf", "bench_sort.py") in suites
    assert ("benchmarks-folder", "benchmarks") in suites
    jobs = {f.detail for f in inv.ci_workflows}
    assert jobs == {"test: tests", "bench: benchmarks"}  # the lint job runs neither
    results = {(f.kind, f.path) for f in inv.result_files}
    assert ("hyperfine-result", "results/hyperfine.json") in results
    assert ("pyperf-result", "results/sort-pyperf.json") in results
    assert (
        "pytest-benchmark-result",
        ".benchmarks/Linux-CPython-3.11-64bit/0001_base.json",
    ) in results
    assert "asv.conf.json" not in {p for _, p in results}
    assert [f.detail for f in inv.profilers if f.kind == "dependency"] == ["py-spy"]
    assert [f.detail for f in inv.feature_flags] == ["flagsmith"]


def test_empty_repo_finds_nothing(tmp_path: Path) -> None:
    inv = scan_repo(tmp_path)
    # Only what perfop's own environment has (the profilers it can run) is reported.
    assert [(c, f) for c, f in inv.rows() if f.kind != "installed"] == []


def test_installed_profilers_are_reported(tmp_path: Path) -> None:
    """Issue 22: inventory said ``profilers: []`` with py-spy, pyinstrument and memray installed
    (the dev extras install all three, as `make venv` and .ci/run do)."""
    inv = scan_repo(tmp_path)
    installed = {f.detail for f in inv.profilers if f.kind == "installed"}
    assert installed == {"py-spy", "pyinstrument", "memray"}


NOXFILE = """\
import nox

PYTHON_VERSIONS = ["3.9", "3.10", "3.11"]


@nox.session(
    python=PYTHON_VERSIONS,
    reuse_venv=True,
)
def tests(session):
    session.run("pytest")


@nox.session(python="3.11")
def lint(session):
    session.run("ruff", "check")


@nox.session(name="docs-build", python="3.11")
def docs(session):
    session.run("sphinx-build")
"""


def test_nox_with_a_multi_line_decorator_names_the_test_session(tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text(NOXFILE)
    inv = scan_repo(tmp_path)
    nox = next(f for f in inv.test_commands if f.kind == "nox")
    assert nox.detail.startswith("nox -s tests "), nox.detail
    assert "lint" in nox.detail and "docs-build" in nox.detail  # listed, not chosen


def test_nox_without_a_test_session_does_not_pick_the_linter(tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text(
        "import nox\n\n@nox.session\ndef lint(session):\n    pass\n"
    )
    nox = next(f for f in scan_repo(tmp_path).test_commands if f.kind == "nox")
    assert nox.detail == "nox (sessions: lint)"


def test_unittest_suite_is_detected(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_core.py").write_text(
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_x(self):\n        pass\n"
    )
    found = [(f.kind, f.detail) for f in scan_repo(tmp_path).test_commands]
    assert ("unittest", "python -m unittest") in found


def test_inventory_verb_records_and_reports_json(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    repo = make_fixture_repo(tmp_path / "repo")
    (repo / "perfop.toml").write_text(
        f'store = "sqlite:///{tmp_path}/perfop.db"\n[workloads.w]\ncommand = "true"\n'
    )
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    assert (
        main(["--repo", str(repo), "run", "w", "-n", "2", "--warmup", "0", "--format", "json"]) == 0
    )
    capsys.readouterr()
    assert main(["--repo", str(repo), "intake", "--title", "T", "-w", "w"]) == 0
    capsys.readouterr()
    assert main(["--repo", str(repo), "inventory", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)["inventory"]
    assert doc["id"] == 1
    assert [f["path"] for f in doc["perfop_runs"]] == ["w"]
    assert "1 run(s)" in doc["perfop_runs"][0]["detail"]
    assert {f["kind"] for f in doc["result_files"]} >= {"hyperfine-result", "pyperf-result"}
    # feature flags found: the open question about a flag mechanism goes away
    assert main(["--repo", str(repo), "intake", "--format", "json"]) == 0
    questions = json.loads(capsys.readouterr().out)["engagement"]["open_questions"]
    assert not any("feature-flag" in q for q in questions)
    assert main(["--repo", str(repo), "inventory"]) == 0
    out = capsys.readouterr().out
    assert "hyperfine-result" in out and "results/hyperfine.json" in out
