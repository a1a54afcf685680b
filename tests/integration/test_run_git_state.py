"""`perfop run` reads the tree's git state once: the run's ref, sha and dirty flag and the
environment stored with it come from the same reading (issue 18 point 1: each reading is 3-4
git processes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import run_git
from perfop import environment, git
from perfop.measure import service as measure
from perfop.store import open_store


def test_one_git_reading_per_run(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    repo = git_repo({"bench.py": "print('hi')\n"})
    (repo / "untracked.txt").write_text("dirty\n")  # a dirty tree: the diff is hashed too
    readings: list[dict[str, Any]] = []
    real = environment.git_state

    def counted(path: Path) -> dict[str, Any]:
        readings.append(real(path))
        return readings[-1]

    monkeypatch.setattr(environment, "git_state", counted)
    monkeypatch.setattr(measure, "git_state", counted)
    monkeypatch.chdir(repo)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        outcome = measure.run_adhoc(store, repo, ["true"], runs=1, warmup=0)
        record = store.get_run(outcome.run_id)
        assert record.environment_id is not None
        stored = store.get_environment(record.environment_id)
    finally:
        store.close()
    assert len(readings) == 1
    assert stored is not None
    git = stored["git"]
    assert git["sha"] == record.sha == readings[0]["sha"]
    assert git["dirty"] is True and record.dirty is True
    assert git["diff_hash"] == readings[0]["diff_hash"] is not None


def test_the_json_document_shows_the_environment_stored_with_the_run(
    git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, run_cli
) -> None:
    # `perfop run --format json` read the environment a second time after measuring (3-4 git
    # processes more); its document now shows the one stored with the runs.
    import json

    repo = git_repo()
    (repo / "untracked.txt").write_text("dirty\n")
    readings: list[dict[str, Any]] = []
    real = environment.git_state

    def counted(path: Path) -> dict[str, Any]:
        readings.append(real(path))
        return readings[-1]

    monkeypatch.setattr(environment, "git_state", counted)
    monkeypatch.setattr(measure, "git_state", counted)
    url = f"sqlite:///{tmp_path / 's.db'}"
    code, out, err = run_cli(
        ["--store", url, "run", "--runs", "2", "--format", "json", "--", "true"], cwd=repo
    )
    assert code == 0, err
    doc = json.loads(out)
    assert len(readings) == 1
    store = open_store(url)
    try:
        stored = store.get_environment(store.get_run(doc["runs"][0]["id"]).environment_id or 0)
    finally:
        store.close()
    assert doc["environment"] == stored
    assert doc["environment"]["git"] == readings[0] and readings[0]["dirty"] is True


def test_capture_environment_reads_git_itself_when_not_given(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo()
    env = environment.capture_environment(repo)
    assert env["git"]["sha"] == environment.git_state(repo)["sha"]
    assert env["git"]["dirty"] is False


def _git_state_as_before(repo: Path) -> dict[str, Any]:
    """``git_state`` as it was read before issue 18's start-up pass: four git processes
    (``rev-parse HEAD``, ``symbolic-ref --short -q HEAD``, ``status``, ``diff-index``)."""
    import hashlib

    def out(*args: str) -> str | None:
        done = git.run(repo, *args, user_env=True)
        return done.stdout.strip() if done.returncode == 0 else None

    sha = out("rev-parse", "HEAD")
    if sha is None:
        return {"sha": None, "branch": None, "dirty": None, "diff_hash": None}
    branch = out("symbolic-ref", "--short", "-q", "HEAD") or None
    status = out("status", "--porcelain", "--untracked-files=normal") or ""
    diff_hash = None
    if status:
        digest = hashlib.sha256((out("diff-index", "-p", "--binary", "HEAD") or "").encode())
        digest.update(status.encode())
        diff_hash = digest.hexdigest()[:16]
    return {"sha": sha, "branch": branch, "dirty": bool(status), "diff_hash": diff_hash}


def _states(repo: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    return environment.git_state(repo), _git_state_as_before(repo)


def test_git_state_reads_what_it_read_before(git_repo: Callable[..., Path], tmp_path: Path) -> None:
    # Two git processes instead of three (four for a dirty tree, now three): the same fields,
    # the same values, on real repositories in every state a run can find them in.
    repo = git_repo({"bench.py": "print('hi')\n", "lib/data.bin": "\x00\x01\n"})
    new, old = _states(repo)
    assert new == old and new["branch"] == "main" and new["dirty"] is False  # clean

    (repo / "bench.py").write_text("print('changed')\n")
    (repo / "untracked file.txt").write_text("new\n")
    (repo / "lib" / "data.bin").unlink()
    new, old = _states(repo)
    assert new == old and new["dirty"] is True and new["diff_hash"] is not None  # dirty

    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-q", "-m", "second")
    run_git(repo, "checkout", "-q", "--detach", "HEAD~1")
    new, old = _states(repo)
    assert new == old and new["branch"] is None and new["sha"] is not None  # detached

    run_git(repo, "checkout", "-q", "main")
    run_git(repo, "tag", "main")  # a tag named like the branch: git shortens to heads/main
    run_git(repo, "checkout", "-q", "-b", "feature/x")
    run_git(repo, "tag", "feature/x")
    new, old = _states(repo)
    assert new == old and new["branch"] == "heads/feature/x"

    run_git(repo, "checkout", "-q", "--orphan", "unborn")  # a branch without a commit
    new, old = _states(repo)
    assert new == old == {"sha": None, "branch": None, "dirty": None, "diff_hash": None}

    empty = git_repo(name="empty", commit=False)  # no commit at all
    assert _states(empty)[0] == _states(empty)[1] == _states(repo)[0]
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    assert _states(plain)[0] == _states(plain)[1] == _states(repo)[0]


def test_git_state_follows_a_remote_named_like_the_branch(git_repo: Callable[..., Path]) -> None:
    # refs/remotes/main/HEAD makes "main" ambiguous to a strict shortening only; the branch is
    # named as symbolic-ref --short named it (a loose shortening).
    repo = git_repo()
    sha = run_git(repo, "rev-parse", "HEAD").strip()
    run_git(repo, "update-ref", "refs/remotes/main/HEAD", sha)
    new, old = _states(repo)
    assert new == old and new["branch"] == "main"
