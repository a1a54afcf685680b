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
    # --benchmark-max-time=0.02: each benchmark's rounds cover ~20 ms a run, and perfop says so.
    (short,) = [n for n in w["notices"] if "per suite run" in n]
    assert short.startswith("bench: the rounds of test_") and "--benchmark-max-time" in short
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


def loose(n):
    return sum(range(n))
"""

GATE_BENCH = """\
import lib


def test_pinned(benchmark):
    benchmark(lib.pinned, 40000)


def test_steady(benchmark):
    benchmark(lib.steady, 3000)


def test_loose(benchmark):
    benchmark(lib.loose, 5000)
"""

GATE_CONFIG = """\
[tool.perfop]
threshold = 0.05

[tool.perfop.workloads.bench]
kind = "pytest-benchmark"
args = ["--benchmark-max-time=0.02", "--benchmark-min-rounds=5"]
env = { PYTHONPATH = "{worktree}" }
fail_on = ["test_pinned", "test_steady"]
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
    pinned, steady, loose = GATE_LIB.split("\n\n\n")
    pinned = pinned.replace("sum(range(n))", "sum(range(n // 8))")
    loose = loose.replace("sum(range(n))", "sum(range(8 * n))")
    (repo / "lib.py").write_text("\n\n\n".join([pinned, steady, loose]))
    # test_loose gets 8x slower, but fail_on leaves it out: only the pinned one fails.
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
        assert by["test_loose"]["verdict"] == "slower" and not by["test_loose"]["fails_gate"]
        assert run["suite"]["failing"] == ["test_pinned"]
    assert git(repo, "status", "--porcelain") == ""


VALIDATE_LIB = """\
def work(n):
    return sum(range(n))


def other(n):
    return sum(range(n))


def loose(n):
    return sum(range(n))
"""

VALIDATE_BENCH = """\
import lib


def test_work(benchmark):
    benchmark(lib.work, 40000)


def test_other(benchmark):
    benchmark(lib.other, 5000)


def test_loose(benchmark):
    benchmark(lib.loose, 5000)
"""

VALIDATE_CONFIG = """\
[tool.perfop]
threshold = 0.05
test_command = "{python} -c pass"

[tool.perfop.workloads.bench]
kind = "pytest-benchmark"
args = ["--benchmark-max-time=0.02", "--benchmark-min-rounds=5"]
env = { PYTHONPATH = "{worktree}" }
fail_on = ["test_work", "test_other"]
"""

VALIDATE_INTAKE = """\
title: Make work faster
requester: Ada
scenario: work runs in every request.
goals:
  - bench test_work faster
workloads: [bench]
stakeholders:
  - {name: Ada, role: owner}
risk_tolerance: low
hardware: 2 vCPU VM
dataset: built-in
traffic: batch
dashboards: [none]
regression_tests: [none]
"""


@pytest.mark.slow
def test_validate_judges_the_named_benchmark_and_reports_a_gated_one_that_got_slower(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    """H1 names benchmark ``test_work`` of the suite; the candidate makes it 8x faster, the
    gated ``test_other`` 8x slower and the ungated ``test_loose`` 8x slower. H1 is confirmed on
    its own benchmark; ``test_other`` is a regression of its own (exit 1); ``test_loose`` is
    not, since ``fail_on`` leaves it out."""
    repo = git_repo(
        {
            "pyproject.toml": VALIDATE_CONFIG,
            "lib.py": VALIDATE_LIB,
            "benchmarks/test_lib.py": VALIDATE_BENCH,
            "intake.yaml": VALIDATE_INTAKE,
            ".gitignore": ".perfop/\n__pycache__/\n",
        }
    )
    git(repo, "switch", "-q", "-c", "cand")
    fast = VALIDATE_LIB.split("\n\n\n")
    fast[0] = fast[0].replace("sum(range(n))", "sum(range(n // 8))")
    fast[1] = fast[1].replace("sum(range(n))", "sum(range(8 * n))")
    fast[2] = fast[2].replace("sum(range(n))", "sum(range(8 * n))")
    (repo / "lib.py").write_text("\n\n\n".join(fast))
    git(repo, "commit", "-q", "-am", "work 8x faster, other and loose 8x slower")
    git(repo, "switch", "-q", "main")

    def cli(*args: str) -> tuple[int, dict[str, Any]]:
        res = run_cli([*args, "--format", "json"], cwd=repo)
        return res.code, (json.loads(res.out) if res.out.strip() else {"stderr": res.err})

    assert cli("intake", "--from", str(repo / "intake.yaml"), "--confirm")[0] == 0
    assert cli("inventory")[0] == 0
    code, doc = cli(
        "hypothesis", "add", "work less", "-w", "bench", "--metric", "test_work",
        "--expect", "0.5", "--verify", "perfop validate H1",
    )  # fmt: skip
    assert code == 0, doc
    code, doc = cli("design", "H1", "--fix", "less work", "--rollback", "git revert")
    assert code == 0, doc
    code, doc = cli("validate", "H1", "--candidate", "cand", "--seed", "5", "--max-pairs", "8")
    outcome = doc["outcome"]
    assert doc["status"] == "confirmed", outcome
    assert outcome["rule"] == "confirmed-other-regression", outcome
    (regression,) = outcome["regressions"]
    assert regression.startswith("another gated workload regressed: bench test_other "), outcome
    assert code == 1
    evidence = {e["metric"]: e for e in doc["validation"]["evidence"]["workloads"]}
    assert evidence["test_work"]["targeted"] and evidence["test_work"]["verdict"] == "faster"
    assert not evidence["test_other"]["targeted"] and evidence["test_other"]["gate"]
    assert evidence["test_loose"]["verdict"] == "slower" and not evidence["test_loose"]["gate"]


@pytest.mark.slow
def test_record_and_history_follow_each_benchmark_of_a_suite(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    """Two recorded commits: the second makes ``test_work`` 8x slower. Each benchmark has a
    series of its own (one point per commit, from the samples stored per benchmark)."""
    repo = _pb_repo(git_repo, git)
    res = run_cli(["record", "bench", "-n", "3", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    (lib := repo / "lib.py").write_text(
        lib.read_text().replace("sum(range(n))", "sum(range(8 * n))")
    )
    git(repo, "commit", "-q", "-am", "work 8x slower")
    res = run_cli(["record", "bench", "-n", "3", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    assert {"test_work", "test_steady"} <= set(json.loads(res.out)["runs"][0]["metrics"])
    series = {}
    for name in ("test_work", "test_steady"):
        args = ["history", "bench", "--metric", name, "--no-plot", "--format", "json"]
        res = run_cli(args, cwd=repo)
        assert res.code == 0, res.err
        doc = json.loads(res.out)
        assert doc["metric"] == name and doc["unit"] == "s" and doc["better"] == "lower"
        series[name] = [p["value"] for p in doc["points"]]
        assert [p["n"] for p in doc["points"]] == [3, 3]
    work, steady = series["test_work"], series["test_steady"]
    assert work[1] / work[0] > 3, work  # 8x the loop
    assert steady[0] != work[0]  # a series per benchmark, not the suite's wall time
    res = run_cli(["history", "bench", "--metric", "test_wrok", "--no-plot"], cwd=repo)
    assert res.code == 2
    assert "test_wrok" in res.err and "test_work" in res.err, res.err
    assert len(res.err.strip().splitlines()) == 1


def _readme_suite_block() -> str:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    after = readme.split("An existing pytest-benchmark suite is a workload in three lines", 1)[1]
    return after.split("```toml\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
def test_the_readme_configures_a_pytest_benchmark_suite_in_three_lines(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    """The README's block, as it stands, measures a real suite (a root conftest.py puts the
    project on sys.path, as in most repositories): each benchmark is a metric."""
    block = _readme_suite_block()
    assert len(block.strip().splitlines()) == 3, block
    repo = git_repo(
        {
            "pyproject.toml": block,
            "conftest.py": "",
            "lib.py": LIB,
            "benchmarks/test_lib.py": BENCH,
        }
    )
    res = run_cli(["run", "--list"], cwd=repo)
    assert res.code == 0, res.err
    assert "bench (pytest-benchmark): 3 benchmarks" in res.out
    res = run_cli(["run", "bench", "--runs", "2", "--warmup", "0", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    run = json.loads(res.out)["runs"][0]
    assert {"test_work", "test_steady", "test_fragile"} <= set(run["metrics"])
