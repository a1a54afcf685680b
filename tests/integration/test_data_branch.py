"""`perfop data export|import`: history in the `perfop-data` branch of a real repository.

Exports are append-only files written with git plumbing: the user's HEAD, index, working tree,
stash and branches stay exactly as they were; two exports made apart merge without a conflict;
a fresh store reads them back into the same history; a branch perfop did not write is refused.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CONFIG = """\
[tool.perfop.workloads.work]
command = "{python} -c pass"
warmup = 0
min_runs = 3
max_runs = 3
"""


def _user_state(git: Callable[..., str], repo: Path) -> tuple[str, ...]:
    return (
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
        git(repo, "status", "--porcelain", "--untracked-files=all"),
        git(repo, "stash", "list"),
        git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/main"),
        (repo / "wip.txt").read_text(),
        git(repo, "diff", "--cached"),
    )


@pytest.mark.slow
def test_export_is_append_only_and_leaves_the_users_repository_alone(
    git_repo: Callable[..., Path],
    git: Callable[..., str],
    run_cli: Callable[..., Any],
    tmp_path: Path,
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG, ".gitignore": ".perfop/\n"})
    git(repo, "branch", "-M", "main")
    assert run_cli(["record"], cwd=repo).code == 0
    (repo / "notes.txt").write_text("second\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "second (#3)")
    assert run_cli(["record"], cwd=repo).code == 0
    # The user's work in progress: staged and unstaged changes.
    (repo / "wip.txt").write_text("unstaged\n")
    (repo / "notes.txt").write_text("staged\n")
    git(repo, "add", "notes.txt")
    before = _user_state(git, repo)

    res = run_cli(["data", "export"], cwd=repo)
    assert res.code == 0, res.err
    assert "added 2 runs" in res.out
    assert _user_state(git, repo) == before
    files = git(repo, "ls-tree", "-r", "--name-only", "perfop-data").splitlines()
    assert len(files) == 2 and all(f.startswith("runs/work/") for f in files)
    tip = git(repo, "rev-parse", "perfop-data")
    res = run_cli(["data", "export"], cwd=repo)
    assert res.code == 0 and "nothing new" in res.out
    assert git(repo, "rev-parse", "perfop-data") == tip

    # A clone records its own run and exports it; the two branches merge without a conflict.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, timeout=60)
    git(clone, "config", "user.email", "t@example.invalid")
    git(clone, "config", "user.name", "t")
    assert run_cli(["record"], cwd=clone).code == 0
    res = run_cli(["data", "export"], cwd=clone)
    assert res.code == 0 and "added 1 runs" in res.out, res.err  # on top of origin's branch
    # ...while the original records and exports once more: the two branches diverge.
    assert run_cli(["record", "-n", "3"], cwd=repo).code == 0
    assert "added 1 runs" in run_cli(["data", "export"], cwd=repo).out
    git(clone, "fetch", "-q", "origin", "+perfop-data:refs/remotes/origin/perfop-data")
    side = tmp_path / "merge"
    git(clone, "worktree", "add", "-q", str(side), "perfop-data")
    git(side, "merge", "-q", "--no-edit", "origin/perfop-data")
    merged = git(side, "ls-tree", "-r", "--name-only", "HEAD").splitlines()
    assert len(merged) == 4
    # perfop keeps adding on top of the merge (its branch, though the merge commit is git's).
    assert run_cli(["record"], cwd=clone).code == 0
    assert "added 1 runs" in run_cli(["data", "export"], cwd=clone).out
    assert len(git(clone, "ls-tree", "-r", "--name-only", "perfop-data").splitlines()) == 5

    # A fresh store reads the merged branch back: the same history.
    fresh = tmp_path / "fresh.db"
    env = {"PERFOP_STORE": f"sqlite:///{fresh}"}
    res = run_cli(["data", "import", "--ref", "perfop-data"], cwd=clone, env=env)
    assert res.code == 0 and "imported 5 runs" in res.out, res.err
    res = run_cli(["data", "import", "--ref", "perfop-data"], cwd=clone, env=env)
    assert "imported 0 runs" in res.out
    res = run_cli(["history", "work", "--format", "json"], cwd=clone, env=env)
    assert res.code == 0, res.err
    assert res.out.count('"sha"') >= 2


def test_a_branch_perfop_did_not_write_is_refused(
    git_repo: Callable[..., Path], git: Callable[..., str], run_cli: Callable[..., Any]
) -> None:
    repo = git_repo({"pyproject.toml": CONFIG})
    git(repo, "branch", "-M", "main")
    before = git(repo, "rev-parse", "main")
    for name in ("main", "perfop-data"):
        if name == "perfop-data":
            git(repo, "branch", "perfop-data")  # the user's own branch of that name
        res = run_cli(["data", "export", "--branch", name], cwd=repo)
        assert res.code == 2 and "perfop did not write it" in res.err, res.err
    assert git(repo, "rev-parse", "main") == before == git(repo, "rev-parse", "perfop-data")
    res = run_cli(["data", "export", "--branch", "-x"], cwd=repo)
    assert res.code == 2 and "not a valid branch name" in res.err
    res = run_cli(["data", "import", "--ref", "nowhere"], cwd=repo)
    assert res.code == 2 and "no such branch" in res.err
    assert shutil.which("git")
