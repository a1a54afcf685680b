"""The agent's sandbox worktree is owned like a comparison's: nobody else's clean-up removes it
while its perfop is alive, and the next perfop removes it once that process is gone."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from perfop.agent.sandbox import Sandbox
from perfop.measure.worktrees import WORKTREES_DIR, cleanup_stale


def _age_everything(root: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            os.utime(path, (old, old))


def _worktrees(repo: Path) -> str:
    return subprocess.run(
        ["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def test_a_live_sandbox_survives_other_commands_cleanup(git_repo: Callable[..., Path]) -> None:
    repo = git_repo({"app.py": "print(1)\n"})
    sandbox = Sandbox.create(repo, "engagement-1", "HEAD")
    try:
        (sandbox.path / "app.py").write_text("print(2)\n")  # the agent's uncommitted edit
        _age_everything(repo / WORKTREES_DIR)  # a long agent run: minutes, not seconds
        cleanup_stale(repo)  # what every compare/validate does on entry
        assert (sandbox.path / "app.py").read_text() == "print(2)\n"
    finally:
        sandbox.close()
    assert str(sandbox.path) not in _worktrees(repo)
    assert not sandbox.path.exists()


def test_a_dead_agents_sandbox_is_removed_by_the_next_start(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo({"app.py": "print(1)\n"})
    sandbox = Sandbox.create(repo, "engagement-1", "HEAD")
    owners = list((repo / WORKTREES_DIR).glob("*/owner.json"))
    assert len(owners) == 1
    dead = subprocess.Popen(["true"])
    dead.wait()
    owners[0].write_text(json.dumps({"pid": dead.pid, "pid_start": None}))
    cleanup_stale(repo)
    assert not sandbox.path.exists()
    assert str(sandbox.path) not in _worktrees(repo)
