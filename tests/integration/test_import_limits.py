"""Imported names and commit ids that the store's columns cannot hold are refused up front.

A workload name is indexed, and PostgreSQL's b-tree refuses an entry over ~2.7 kB ("index row
size exceeds maximum"); a sha is varchar(64), a commit time varchar(40). `perfop import` and
`perfop data import` read files written elsewhere, so each is checked before anything is
stored: one line naming the file and the fix, exit 2, no run stored -- on SQLite (where the
column would have taken anything) and PostgreSQL (where the write failed half-way) alike.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import _GIT_ENV
from perfop.store import schema as s
from perfop.store.opening import make_engine

LONG = "x" * 3000  # past PostgreSQL's b-tree entry limit


def _hyperfine(command: str) -> dict[str, Any]:
    return {"results": [{"command": command, "times": [0.1, 0.11, 0.12], "exit_codes": [0] * 3}]}


def _pytest_benchmark(name: str, sha: str) -> dict[str, Any]:
    return {
        "machine_info": {"node": "x"},
        "commit_info": {"id": sha, "time": "2026-12-01T10:00:00+00:00"},
        "benchmarks": [{"name": name, "fullname": name, "stats": {"median": 0.1, "data": [0.1]}}],
        "version": "4.0.0",
    }


def _runs(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("runs"):
                return 0
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar_one())
    finally:
        engine.dispose()


def _refused(res: Any, *needles: str) -> None:
    err = res.err.strip()
    assert res.code == 2, (res.code, res.out[-300:], res.err[-500:])
    assert err and "\n" not in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize(
    ("doc", "needles"),
    [
        pytest.param(_hyperfine(LONG), ("3000 characters", "--command-name"), id="long-name"),
        pytest.param(
            _pytest_benchmark("test_a", "a" * 100), ("is not a commit id",), id="long-sha"
        ),
        pytest.param(_pytest_benchmark("test_a", "abc def"), ("not a commit id",), id="bad-sha"),
    ],
)
def test_an_import_the_store_cannot_hold_is_refused_whole(
    any_store_url: str,
    git_repo: Callable[..., Path],
    run_cli: Callable[..., Any],
    doc: dict[str, Any],
    needles: tuple[str, ...],
    tmp_path: Path,
) -> None:
    repo = git_repo({"perfop.toml": ""})
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_hyperfine("sleep 0")))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    # The good file first: it must not be stored either, as the second one is refused.
    res = run_cli(["--store", any_store_url, "import", str(good), str(bad)], cwd=repo)
    _refused(res, str(bad), *needles)
    assert _runs(any_store_url) == 0
    res = run_cli(["--store", any_store_url, "import", str(good)], cwd=repo)
    assert res.code == 0, res.err
    assert _runs(any_store_url) == 1


def test_a_prefix_that_makes_the_name_too_long_names_the_prefix(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    repo = git_repo({"perfop.toml": ""})
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_hyperfine("sleep 0")))
    res = run_cli(["import", "--prefix", "p" * 300, str(good)], cwd=repo)
    _refused(res, "--prefix")
    assert not (repo / ".perfop" / "perfop.db").exists()


def _git_in(repo: Path, *args: str, stdin: str = "") -> str:
    env = {**os.environ, **_GIT_ENV}
    out = subprocess.run(
        ["git", *args], cwd=repo, input=stdin, capture_output=True, text=True, env=env, check=True
    )
    return out.stdout.strip()


def _data_branch(repo: Path, record: dict[str, Any]) -> None:
    """A ``perfop-data`` branch holding one record file (as another machine could push it)."""
    blob = _git_in(repo, "hash-object", "-w", "--stdin", stdin=json.dumps(record))
    tree_runs = _git_in(repo, "mktree", stdin=f"100644 blob {blob}\tabc-0123456789abcdef.json\n")
    tree_w = _git_in(repo, "mktree", stdin=f"040000 tree {tree_runs}\tw\n")
    root = _git_in(repo, "mktree", stdin=f"040000 tree {tree_w}\truns\n")
    commit = _git_in(repo, "commit-tree", root, "-m", "data\n\nPerfop-Data: 1")
    _git_in(repo, "update-ref", "refs/heads/perfop-data", commit)


RECORD = {
    "schema": "perfop.record/1",
    "workload": "w",
    "sha": "a" * 40,
    "committed_at": "2026-12-01T10:00:00+00:00",
    "branch": "main",
    "samples": [{"wall_time": 0.1}],
}


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        pytest.param({"workload": LONG}, ("3000 characters",), id="long-workload"),
        pytest.param({"sha": "b" * 65}, ("not a commit id",), id="long-sha"),
        pytest.param({"committed_at": "9" * 41}, ("commit time",), id="long-time"),
        pytest.param({"samples": "nope"}, ("'samples'",), id="bad-samples"),
        pytest.param({"sha": None}, ("names no commit",), id="no-sha"),
    ],
)
def test_a_data_branch_record_the_store_cannot_hold_is_refused(
    any_store_url: str,
    git_repo: Callable[..., Path],
    run_cli: Callable[..., Any],
    change: dict[str, Any],
    needles: tuple[str, ...],
) -> None:
    repo = git_repo({"perfop.toml": ""})
    _data_branch(repo, {**RECORD, **change})
    res = run_cli(["--store", any_store_url, "data", "import"], cwd=repo)
    _refused(res, "runs/w/abc-0123456789abcdef.json", *needles)
    assert _runs(any_store_url) == 0
    _data_branch(repo, RECORD)
    res = run_cli(["--store", any_store_url, "data", "import"], cwd=repo)
    assert res.code == 0 and "imported 1 runs" in res.out, res.err
    assert _runs(any_store_url) == 1
