"""One git runner: every perfop git call goes through ``perfop.git`` (hooks off, no optional
locks, own process group); no other module under src/perfop spawns git itself."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

import perfop
from perfop import git as gitrun
from perfop.errors import GitError
from perfop.measure import worktrees

SRC = Path(perfop.__file__).resolve().parent
RUNNER = SRC / "git.py"
# Calls that start a program from an argv list (or a shell string).
SPAWNERS = {
    "run",
    "Popen",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "system",
    "popen",
    "create_subprocess_exec",
    "create_subprocess_shell",
    "spawn",
}


def _names_git(node: ast.AST) -> bool:
    """``["git", ...]``, ``("git", ...)`` or a shell string ``"git ..."``."""
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        return isinstance(first, ast.Constant) and first.value == "git"
    return (
        isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value == "git" or node.value.startswith("git "))
    )


def git_spawns(source: str, filename: str = "<src>") -> list[int]:
    """Lines where ``source`` starts git without the runner: a spawning call whose argv is git,
    or any argv-shaped list or tuple literal starting with ``"git"`` (built, then passed on)."""
    found: set[int] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.List | ast.Tuple) and _names_git(node):
            found.add(node.lineno)
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            is_exec = name.startswith(("exec", "spawn", "posix_spawn"))
            if (name in SPAWNERS or is_exec) and any(_names_git(a) for a in node.args[:2]):
                found.add(node.lineno)
    return sorted(found)


def test_no_module_but_the_runner_spawns_git() -> None:
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path != RUNNER
        for line in git_spawns(path.read_text(encoding="utf-8"), str(path))
    ]
    assert not offenders, "git run outside perfop.git (use perfop.git.run/git): " + ", ".join(
        offenders
    )


@pytest.mark.parametrize(
    "code",
    [
        'subprocess.run(["git", "status"], cwd=repo)',
        'argv = ["git", "-C", str(repo), "log"]\nsubprocess.Popen(argv)',
        'subprocess.check_output(("git", "rev-parse", "HEAD"))',
        'os.system("git gc")',
        'os.execvp("git", ["git", "fetch"])',
        'subprocess.run("git status", shell=True)',
    ],
)
def test_the_scan_finds_each_way_of_spawning_git(code: str) -> None:
    assert git_spawns(code)


def test_the_scan_leaves_other_programs_and_mentions_of_git_alone() -> None:
    code = (
        'subprocess.run(["python", "-c", "pass"])\n'
        'if prog == "git":\n    pass\n'
        'msg = "run git fetch first"\n'
        "gitrun.run(repo, 'status')\n"
    )
    assert git_spawns(code) == []


def test_worktrees_git_is_the_runner() -> None:
    assert worktrees.git is gitrun.git
    assert worktrees._run_group is gitrun._run_group


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    gitrun.git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    gitrun.git(repo, "add", "a.txt")
    return repo


def _env_seen_by_git(repo: Path, **kw: bool) -> dict[str, str]:
    # A shell alias runs with the environment git was given (aliases are not hooks).
    out = gitrun.run(repo, "-c", "alias.envdump=!env", "envdump", **kw).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_hooks_never_run(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    hooks = repo / ".git" / "hooks"
    marker = tmp_path / "hook-ran"
    for name in ("pre-commit", "post-commit", "post-checkout"):
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        hook.chmod(0o755)
    gitrun.git(repo, "commit", "-q", "-m", "one")
    gitrun.git(repo, "checkout", "-q", "-b", "other")
    assert gitrun.run(repo, "checkout", "-q", "-", user_env=True).ok
    assert not marker.exists()
    # The same hook does run for a plain git: the test would see one that the runner let run.
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "other"], check=True)
    assert marker.read_text() == "post-checkout\n"


def test_optional_locks_off_and_user_overrides_removed_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path)
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("GIT_OPTIONAL_LOCKS", "1")
    own = _env_seen_by_git(repo)
    assert own["GIT_OPTIONAL_LOCKS"] == "0"
    assert own["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_INDEX_FILE" not in own
    assert own["GIT_AUTHOR_NAME"] == "perfop"
    users = _env_seen_by_git(repo, user_env=True)
    assert users["GIT_OPTIONAL_LOCKS"] == "0"
    assert users["GIT_INDEX_FILE"] == str(tmp_path / "elsewhere")


def test_failures_and_binary_output(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    with pytest.raises(GitError, match="rev-parse"):
        gitrun.git(repo, "rev-parse", "--verify", "no-such-ref")
    assert gitrun.git(repo, "rev-parse", "--verify", "no-such-ref", check=False) == ""
    done = gitrun.run(repo, "ls-files", "-z")
    assert done.ok and done.stdout_bytes == b"a.txt\0"
    blob = gitrun.git(repo, "hash-object", "-w", "--stdin", input=b"\xff\xfe raw\n")
    assert gitrun.run(repo, "cat-file", "blob", blob).stdout_bytes == b"\xff\xfe raw\n"
