"""`perfop run` reads the tree's git state once: the run's ref, sha and dirty flag and the
environment stored with it come from the same reading (issue 18 point 1: each reading is 3-4
git processes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from perfop import environment
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


def test_capture_environment_reads_git_itself_when_not_given(
    git_repo: Callable[..., Path],
) -> None:
    repo = git_repo()
    env = environment.capture_environment(repo)
    assert env["git"]["sha"] == environment.git_state(repo)["sha"]
    assert env["git"]["dirty"] is False
