"""Byte-for-byte picture of what perfop must never change in a user's repository."""

from __future__ import annotations

import subprocess
from pathlib import Path


def user_state(repo: Path) -> dict[str, bytes]:
    """Working-tree files (minus .perfop/), index, HEAD, every ref, packed refs and stash log."""
    state: dict[str, bytes] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo)
        if rel.parts[0] in (".git", ".perfop") or not path.is_file():
            continue
        state[f"tree:{rel.as_posix()}"] = path.read_bytes()
    git_dir = repo / ".git"
    for name in ("index", "HEAD", "packed-refs", "logs/refs/stash", "logs/HEAD"):
        p = git_dir / name
        state[f"git:{name}"] = p.read_bytes() if p.exists() else b""
    refs = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname) %(objectname)"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    state["refs"] = refs
    return state


def assert_untouched(before: dict[str, bytes], after: dict[str, bytes]) -> None:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"perfop changed the user's repository: {changed}"
