"""Benchmark suites as workloads, on real pytest-benchmark and asv suites in real git repos:
listing, per-benchmark A/B (a failing benchmark reported as such), harness pinning, the gate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

LIB = """\
def work(n):
    return sum(range(n))


def steady(n):
    return sorted(range(n, 0, -1))


def fragile():
    return 1
"""

BENCH = """\
import lib


def test_work(benchmark):
    benchmark(lib.work, 20000)


def test_steady(benchmark):
    benchmark(lib.steady, 3000)


def test_fragile(benchmark):
    benchmark(lib.fragile)
"""

PB_CONFIG = """\
[tool.perfop]
threshold = 0.05

[tool.perfop.workloads.bench]
kind = "pytest-benchmark"
suite = "benchmarks/"
args = ["--benchmark-max-time=0.02", "--benchmark-min-rounds=5"]
env = { PYTHONPATH = "{worktree}" }
fail_on = ["test_work", "test_fragile"]
"""


def _pb_repo(git_repo: Callable[..., Path], git: Callable[..., str]) -> Path:
    repo = git_repo({"pyproject.toml": PB_CONFIG, "lib.py": LIB, "benchmarks/test_lib.py": BENCH})
    git(repo, "switch", "-q", "-c", "cand")
    slow = LIB.replace("sum(range(n))", "sum(range(8 * n))").replace(
        "return 1", "raise ZeroDivisionError('division by zero')"
    )
    (repo / "lib.py").write_text(slow)
    # The candidate also edits the benchmark: pinned to base, this edit is not measured.
    (repo / "benchmarks/test_lib.py").write_text(BENCH.replace("20000", "200"))
    git(repo, "commit", "-q", "-am", "slower work, fragile breaks, benchmark edited")
    git(repo, "switch", "-q", "main")
    return repo


@pytest.mark.slow
def test_run_list_shows_what_the_suite_contains(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = _pb_repo(git_repo, git)
    res = run_cli(["run", "--list"], cwd=repo)
    assert res.code == 0, res.err
    assert "bench (pytest-benchmark): 3 benchmarks" in res.out
    res = run_cli(["run", "--list", "--format", "json"], cwd=repo)
    doc = json.loads(res.out)
    assert doc["suites"] == [
        {
            "workload": "bench",
            "kind": "pytest-benchmark",
            "benchmarks": ["test_work", "test_steady", "test_fragile"],
        }
    ]
    res = run_cli(["inventory", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    found = json.loads(res.out)["inventory"]["benchmark_suites"]
    row = next(f for f in found if f["kind"] == "pytest-benchmark-workload")
    assert row["path"] == "bench" and row["detail"].startswith("3 benchmarks: test_work")
    assert git(repo, "status", "--porcelain") == ""


@pytest.mark.slow
def test_compare_decides_per_benchmark_and_reports_the_failing_one(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = _pb_repo(git_repo, git)
    args = ["compare", "main", "cand", "--max-pairs", "6", "--seed", "3"]
    res = run_cli([*args, "--format", "json", "--fail-on-regression"], cwd=repo)
    assert res.code == 1, res.err  # a gated benchmark is slower
    w = json.loads(res.out)["workloads"][0]
    assert w["failure"] is None
    suite = w["suite"]
    by = {b["name"]: b for b in suite["benchmarks"]}
    # 8x the work, measured with base's (pinned) benchmark file: the edit to 200 is not run.
    assert by["test_work"]["verdict"] == "slower"
    assert by["test_fragile"]["status"] == "failed on candidate"
    assert "ZeroDivisionError" in by["test_fragile"]["reason"]
    assert by["test_steady"]["verdict"] in ("unchanged", "inconclusive")
    assert suite["fdr"]["method"] == "benjamini-hochberg"
    assert set(suite["failing"]) == {"test_work", "test_fragile"}
    assert w["verdict"] == "slower"
    assert w["pinned_files"] == ["benchmarks"] and w["harness_touched"]
    names = [m["name"] for m in w["metrics"]]
    assert "wall_time" in names and "test_work" in names
    assert git(repo, "status", "--porcelain") == ""

    res = run_cli(args, cwd=repo)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    summary = next(line for line in lines if line.startswith("bench: suite slower"))
    assert "of 3 benchmarks" in summary and "fails a gate on" in summary
    fragile = next(i for i, line in enumerate(lines) if "test_fragile" in line)
    work = next(i for i, line in enumerate(lines) if "test_work" in line)
    steady = next(i for i, line in enumerate(lines) if "test_steady" in line)
    assert "FAILED ON CANDIDATE" in lines[fragile]
    assert fragile < work < steady  # failures first, then by effect


@pytest.mark.slow
def test_perfop_run_stores_each_benchmark_as_a_metric(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = _pb_repo(git_repo, git)
    res = run_cli(["run", "--runs", "3", "--warmup", "0", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    run = json.loads(res.out)["runs"][0]
    assert len(run["samples"]) == 3
    assert {"test_work", "test_steady", "test_fragile", "wall_time"} <= set(run["metrics"])
    assert all(s["metrics"]["test_work"] > 0 for s in run["samples"])
    res = run_cli(["history", "bench", "--metric", "test_work", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err


def test_suite_keys_are_checked_like_every_other_key(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    cases = [
        (
            '[tool.perfop.workloads.b]\nkind = "pytest-benchmark"\ncommand = "x"\n',
            "tool.perfop.workloads.b.command: a pytest-benchmark workload runs its suite itself",
        ),
        (
            '[tool.perfop.workloads.b]\ncommand = "x"\nsuite = "benchmarks"\n',
            "tool.perfop.workloads.b.suite: only for suite workloads",
        ),
        (
            '[tool.perfop.workloads.b]\nkind = "nose"\n',
            "tool.perfop.workloads.b.kind: must be one of",
        ),
        ("[tool.perfop.workloads.b]\ntimeout = 5\n", "tool.perfop.workloads.b.command: required"),
    ]
    for i, (toml, message) in enumerate(cases):
        repo = git_repo({"pyproject.toml": toml}, name=f"r{i}")
        res = run_cli(["run", "--list"], cwd=repo)
        assert res.code == 2, (toml, res.err)
        assert message in res.err and "Traceback" not in res.err, res.err
        assert len(res.err.strip().splitlines()) == 1


ASV_CONF = """\
{
    // asv allows comments
    "version": 1,
    "project": "lib",
    "repo": ".",
    "benchmark_dir": "benchmarks",
    "environment_type": "virtualenv",
}
"""

ASV_BENCH = """\
import lib


def time_work():
    lib.work(20000)


class Sizes:
    params = [100, 1000]

    def time_steady(self, n):
        lib.steady(n)
"""

ASV_CONFIG = """\
[tool.perfop.workloads.asv]
kind = "asv"
args = ["--quick"]
env = { PYTHONPATH = "{worktree}" }
timeout = 300
"""


@pytest.mark.slow
def test_asv_suite_lists_and_compares_without_writing_anything(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    repo = git_repo(
        {
            "pyproject.toml": ASV_CONFIG,
            "asv.conf.json": ASV_CONF,
            "lib.py": LIB,
            "benchmarks/__init__.py": "",
            "benchmarks/bench.py": ASV_BENCH,
        }
    )
    git(repo, "switch", "-q", "-c", "cand")
    (repo / "lib.py").write_text(LIB.replace("sum(range(n))", "sum(range(8 * n))"))
    # An edit to the benchmark itself: pinned to base (the folder asv.conf.json names), not run.
    (repo / "benchmarks/bench.py").write_text(ASV_BENCH.replace("20000", "1"))
    git(repo, "commit", "-q", "-am", "slower work, benchmark edited")
    git(repo, "switch", "-q", "main")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    res = run_cli(["run", "--list", "--format", "json"], cwd=repo, env=env)
    assert res.code == 0, res.err
    assert json.loads(res.out)["suites"][0]["benchmarks"] == [
        "bench.Sizes.time_steady(100)",
        "bench.Sizes.time_steady(1000)",
        "bench.time_work",
    ] or sorted(json.loads(res.out)["suites"][0]["benchmarks"]) == sorted(
        ["bench.Sizes.time_steady(100)", "bench.Sizes.time_steady(1000)", "bench.time_work"]
    )
    res = run_cli(
        [
            "compare",
            "main",
            "cand",
            "--max-pairs",
            "10",
            "--max-time",
            "400",
            "--seed",
            "1",
            "--format",
            "json",
        ],
        cwd=repo,
        env=env,
    )
    assert res.code == 0, res.err
    w = json.loads(res.out)["workloads"][0]
    assert w["failure"] is None, w["failure"]
    by = {b["name"]: b for b in w["suite"]["benchmarks"]}
    assert set(by) == {
        "bench.Sizes.time_steady(100)",
        "bench.Sizes.time_steady(1000)",
        "bench.time_work",
    }
    assert by["bench.time_work"]["verdict"] == "slower", by
    assert set(w["pinned_files"]) == {"asv.conf.json", "benchmarks"}
    # asv wrote nothing into the repository or the home folder (its results went to perfop's
    # own temporary folder, its machine file too).
    assert git(repo, "status", "--porcelain", "--ignored") in ("", "!! .perfop/")
    assert not (home / ".asv-machine.json").exists(), sorted(p.name for p in home.rglob("*"))


GATE_LIB = """\
def pinned(n):
    return sum(range(n))


def steady(n):
    return sorted(range(n, 0, -1))
"""

GATE_BENCH = """\
import lib


def test_pinned(benchmark):
    benchmark(lib.pinned, 40000)


def test_steady(benchmark):
    benchmark(lib.steady, 3000)
"""

GATE_CONFIG = """\
[tool.perfop]
threshold = 0.05

[tool.perfop.workloads.bench]
kind = "pytest-benchmark"
args = ["--benchmark-max-time=0.02", "--benchmark-min-rounds=5"]
env = { PYTHONPATH = "{worktree}" }
fail_if_faster = ["test_pinned"]
"""


@pytest.mark.slow
def test_gate_fails_on_a_pinned_benchmark_that_got_faster(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo(
        {"pyproject.toml": GATE_CONFIG, "lib.py": GATE_LIB, "benchmarks/test_lib.py": GATE_BENCH}
    )
    git(repo, "switch", "-q", "-c", "pr")
    (repo / "lib.py").write_text(GATE_LIB.replace("sum(range(n))", "sum(range(n // 8))"))
    git(repo, "commit", "-q", "-am", "pinned got 8x faster: the pinned-performance test fails")
    res = run_cli(
        ["gate", "--base", "main", "--max-pairs", "8", "--max-time", "400", "--format", "json"],
        cwd=repo,
        env={"GITHUB_ACTIONS": None, "GITHUB_BASE_REF": None},
    )
    assert res.code == 1, res.err
    doc = json.loads(res.out)
    (w,) = doc["workloads"]
    assert w["outcome"] == "regression"
    for run in (w["first"], w["confirmation"]):
        by = {b["name"]: b for b in run["suite"]["benchmarks"]}
        assert by["test_pinned"]["verdict"] == "faster" and by["test_pinned"]["fails_gate"]
        assert not by["test_steady"]["fails_gate"]
    assert git(repo, "status", "--porcelain") == ""
