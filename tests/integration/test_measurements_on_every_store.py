"""Comparisons, calibrations, profiles, history and imports round-trip on SQLite and PostgreSQL.

Each command runs for real (worktrees, processes, py-spy) against the store URL given with
``--store``; the records are then read back through the store's own queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfop.store import compare as compare_store
from perfop.store import history as history_store
from perfop.store import open_store
from perfop.store import profiles as profile_store

PYPROJECT = """\
[project]
name = "storedemo"
version = "0"

[tool.perfop.workloads.work]
command = "{python} work.py"
warmup = 0
min_runs = 3
max_runs = 3
"""

WORK = """\
import time

def spin(n):
    total = 0
    for i in range(n):
        total += i * i
    return total

deadline = time.perf_counter() + 0.05
while time.perf_counter() < deadline:
    spin(2000)
print("PERFOP_METRIC cost={cost} unit=ms better=lower")
"""

PYTEST_BENCHMARK = {
    "machine_info": {"node": "ci", "python_version": "3.11.7"},
    "commit_info": {"id": "0" * 40, "branch": "main", "dirty": False},
    "datetime": "2026-11-20T10:00:00",
    "version": "4.0.0",
    "benchmarks": [
        {
            "name": "test_parse",
            "fullname": "tests/test_b.py::test_parse",
            "stats": {"data": [0.010, 0.011, 0.012], "rounds": 3},
        }
    ],
}


@pytest.mark.slow
def test_every_measurement_kind_round_trips(
    any_store_url: str,
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    repo = git_repo({"pyproject.toml": PYPROJECT, "work.py": WORK.format(cost=40)})
    store_args = ["--store", any_store_url]
    first = git(repo, "rev-parse", "HEAD")
    res = run_cli([*store_args, "record", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    (repo / "work.py").write_text(WORK.format(cost=55))
    git(repo, "commit", "-qam", "costlier")
    second = git(repo, "rev-parse", "HEAD")
    res = run_cli([*store_args, "record", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err

    # work.py is both the workload's script and the code it measures: --harness candidate.
    args = ["compare", first, second, "--max-pairs", "6", "--harness", "candidate"]
    res = run_cli([*store_args, *args, "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["base"]["sha"] == first and doc["candidate"]["sha"] == second
    assert doc["workloads"][0]["behavior"] == "same"

    res = run_cli([*store_args, "calibrate", "--max-pairs", "6", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err

    res = run_cli([*store_args, "profile", "-w", "work", "--format", "json"], cwd=repo)
    assert res.code == 0, res.err
    profile_doc = json.loads(res.out)

    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(PYTEST_BENCHMARK))
    res = run_cli([*store_args, "import", str(bench), "--format", "json"], cwd=repo)
    assert res.code == 0, res.err

    res = run_cli(
        [*store_args, "history", "work", "--metric", "cost", "--no-plot", "--format", "json"],
        cwd=repo,
    )
    assert res.code == 0, res.err
    hist = json.loads(res.out)
    assert [p["sha"] for p in hist["points"]] == [first, second]

    store = open_store(any_store_url)
    try:
        (comparison,) = compare_store.list_comparisons(store)
        assert comparison["status"] == "complete"
        rows = compare_store.comparison_rows(store, int(comparison["id"]))
        assert [r["workload"] for r in rows] == ["work"]
        calibration = compare_store.latest_calibration(store, "work")
        assert calibration is not None

        stored = profile_store.list_profiles(store, workload="work")
        assert stored and stored[0].profile_id == profile_doc["id"]
        assert stored[0].hotspots, "hot spots were not stored"
        assert any("spin" in h.function for h in stored[0].hotspots)

        assert len(history_store.imported_keys(store)) == 1
        workloads = history_store.known_workloads(store)
        assert "work" in workloads and any("test_parse" in w for w in workloads)
        kinds = {r.kind for r in history_store.series_runs(store, "work")}
        assert "record" in kinds
    finally:
        store.close()
