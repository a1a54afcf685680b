"""``perfop profile diff`` end to end through the CLI: JSON document, where time moved, no trace
left in the user's tree."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

APP = """\
def slow_sum(n):
    {body}


def steady():
    x = 0
    for i in range(1_500_000):
        x += i
    return x


slow_sum(2500)
steady()
"""
QUADRATIC = (
    "total = 0\n"
    "    for i in range(n):\n"
    "        for _ in range(i):\n"
    "            total += 1\n"
    "    return total"
)
LINEAR = "return n * (n - 1) // 2"
CONFIG = '[workloads.app]\ncommand = "{python} app.py"\n'


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@e", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_profile_diff_json_shows_the_fixed_function_falling(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"app.py": APP.format(body=QUADRATIC), "perfop.toml": CONFIG})
    _git(repo, "tag", "base")
    (repo / "app.py").write_text(APP.format(body=LINEAR))
    _git(repo, "commit", "-qam", "linear slow_sum")
    status_before = _git(repo, "status", "--porcelain")

    res = run_cli(
        ["profile", "diff", "base", "HEAD", "-w", "app", "--repeat", "1", "--format", "json"],
        cwd=repo,
    )
    assert res.code == 0, res.err
    doc = json.loads(res.out)
    assert doc["schema"] == "perfop.profile-diff/1"
    (diff,) = doc["diffs"]
    assert diff["kind"] == "cpu" and diff["repeat"] == 1
    rows = {r["function"]: r for r in diff["rows"]}
    assert rows["slow_sum"]["delta_per_run"] < 0
    assert min(diff["rows"], key=lambda r: r["delta_per_run"])["function"] == "slow_sum"
    assert _git(repo, "status", "--porcelain") == status_before
    assert "perfop" not in _git(repo, "worktree", "list").split("\n", 1)[-1]


def test_profile_diff_of_an_unknown_ref_is_one_line(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"app.py": APP.format(body=LINEAR), "perfop.toml": CONFIG})
    res = run_cli(["profile", "diff", "no-such-ref", "HEAD", "-w", "app"], cwd=repo)
    assert res.code == 2
    assert len(res.err.strip().splitlines()) == 1 and "no-such-ref" in res.err
    assert "Traceback" not in res.err


def test_profile_diff_text_at_80_columns_is_whole_and_says_what_is_noise(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"app.py": APP.format(body=QUADRATIC), "perfop.toml": CONFIG})
    _git(repo, "tag", "base")
    (repo / "app.py").write_text(APP.format(body=LINEAR))
    _git(repo, "commit", "-qam", "linear slow_sum")
    res = run_cli(
        ["profile", "diff", "base", "HEAD", "-w", "app", "--repeat", "2"],
        cwd=repo,
        env={"COLUMNS": "80"},
    )
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    assert max(len(line) for line in lines if line.startswith(("┃", "│", "┏", "└"))) <= 80
    assert "…" not in res.out
    header = next(line for line in lines if "profile diff:" in line)
    assert "cpu" in res.out.split("┏", 1)[0] and "base -> HEAD" in header
    slow = next(line for line in lines if "slow_sum" in line)
    assert "decrease" in slow or "vanished" in slow, res.out  # not "within noise"
