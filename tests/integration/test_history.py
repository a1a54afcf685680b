"""`perfop record` at successive commits of a real repository, then `perfop history`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

PYPROJECT = """\
[project]
name = "histdemo"
version = "0"

[tool.perfop.workloads.work]
command = "{python} work.py"
min_runs = 2
max_runs = 2
warmup = 0
"""

# The workload reports a deterministic custom metric with a little noise, so the test is about
# the history pipeline rather than about this shared machine's timing noise.
WORK = """\
import random
random.seed({seed})
print("PERFOP_METRIC cost={{:.3f}} unit=ms better=lower".format({level} + random.gauss(0, 0.5)))
"""

LEVELS = [40, 40, 40, 40, 52, 52, 52, 52, 46, 46, 46, 46]


@pytest.mark.slow
def test_record_then_history_finds_both_shifts(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., object]
) -> None:
    repo = git_repo({"pyproject.toml": PYPROJECT, ".gitignore": ".perfop/\n"})
    shas = []
    for i, level in enumerate(LEVELS):
        (repo / "work.py").write_text(WORK.format(seed=i, level=level))
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"step {i}")
        shas.append(git(repo, "rev-parse", "HEAD"))
        res = run_cli(["record", "--format", "json"], cwd=repo)
        assert res.code == 0, res.err  # type: ignore[attr-defined]
        doc = json.loads(res.out)  # type: ignore[attr-defined]
        assert doc["commit"]["sha"] == shas[-1]
        assert doc["commit"]["branch"] == "main"

    plot = repo / "out" / "cost.svg"
    res = run_cli(
        ["history", "work", "--metric", "cost", "--plot", str(plot), "--format", "json"], cwd=repo
    )
    assert res.code == 0, res.err  # type: ignore[attr-defined]
    doc = json.loads(res.out)  # type: ignore[attr-defined]
    assert doc["schema"] == "perfop.history/1"
    assert [p["sha"] for p in doc["points"]] == shas
    assert doc["unit"] == "ms"
    up, down = doc["shifts"]
    assert (up["last_good"], up["first_bad"]) == (shas[3], shas[4])
    assert up["direction"] == "regression" and up["magnitude"] == pytest.approx(0.30, abs=0.03)
    assert up["confidence"] > 0.99
    assert (down["last_good"], down["first_bad"]) == (shas[7], shas[8])
    assert down["direction"] == "improvement"
    assert plot.read_text().startswith("<?xml")

    res = run_cli(["history", "work", "--metric", "cost", "--no-plot"], cwd=repo)
    assert f"introduced in {shas[3][:12]}..{shas[4][:12]}" in res.out  # type: ignore[attr-defined]

    res = run_cli(["history", "nope"], cwd=repo)
    assert res.code == 2  # type: ignore[attr-defined]
    assert "workloads in the store: work" in res.err  # type: ignore[attr-defined]
