"""The store under faults (issue 16 item 11, issue 18 point 1): rejected commands create no store,
read-only commands work on a read-only or full store, a failed first open leaves no file, and an
up-to-date store opens with one read.

Read-only and full stores are real: a read-only bind mount of ``.perfop`` onto itself and a
small tmpfs mounted on ``.perfop`` (root ignores file permissions, so ``chmod a-w`` would prove
nothing). Those tests need root with mount rights (CI has them; marker ``mounts``); elsewhere
they skip with the reason, or fail when ``PERFOP_REQUIRE`` lists ``mounts``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import unavailable
from perfop.errors import StoreError
from perfop.model import ProcessResult, RunStatus
from perfop.store import open_store
from perfop.store import schema as s

PY = sys.executable
CONFIG = f"""\
[workloads.w]
command = ["{PY}", "-c", "pass"]
warmup = 0
min_runs = 1
max_runs = 3
"""


def _repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo({"perfop.toml": CONFIG, ".gitignore": ".perfop/\n", "bench.py": "pass\n"})


def _result(wall: float = 0.01) -> ProcessResult:
    return ProcessResult(
        argv=("prog",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=0.005,
        sys_time=0.001,
        peak_rss=10_000_000,
        metrics={"wall_time": wall},
        stdout_digest="d" * 64,
    )


# --- nothing is created before the input is known good --------------------------------------------
REJECTED = [
    ("unknown-workload", ["run", "nosuch"]),
    ("unknown-workload-record", ["record", "nosuch"]),
    ("bad-ref", ["compare", "nosuchref", "HEAD"]),
    ("range-ref", ["compare", "HEAD..main", "HEAD"]),
    ("no-history", ["history", "w", "--no-plot"]),
    ("history-bad-statistic", ["history", "w", "--statistic", "p42"]),
    ("history-bad-pvalue", ["history", "w", "--pvalue", "2"]),
    ("no-such-run", ["runs", "show", "99"]),
    ("huge-run-id", ["runs", "show", "1180591620717411303424"]),
    ("runs-zero", ["run", "--runs", "0", "w"]),
    ("timeout-nan", ["run", "--timeout", "nan", "w"]),
    ("no-engagement-report", ["report", "--format", "md"]),
    ("profile-unknown-workload", ["profile", "nosuch"]),
    ("store-missing-folder", ["--store", "sqlite:////nonexistent/dir/x.db", "runs", "list"]),
    ("limit-word", ["runs", "list", "--limit", "many"]),
]


@pytest.mark.parametrize(("argv"), [pytest.param(a, id=i) for i, a in REJECTED])
def test_a_rejected_command_creates_no_store(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any], argv: list[str]
) -> None:
    repo = _repo(git_repo)
    res = run_cli(argv, cwd=repo)
    assert res.code != 0, (argv, res.out[-300:])
    assert "Traceback" not in res.err
    assert not (repo / ".perfop").exists(), sorted(p.name for p in (repo / ".perfop").iterdir())


def test_read_commands_on_a_fresh_repository_create_nothing(
    git_repo: Callable[..., Path], run_cli: Callable[..., Any]
) -> None:
    repo = _repo(git_repo)
    listed = run_cli(["runs", "list", "--format", "json"], cwd=repo)
    assert listed.code == 0 and json.loads(listed.out)["runs"] == []
    assert run_cli(["runs", "list"], cwd=repo).code == 0
    assert run_cli(["status"], cwd=repo).code == 0  # "no engagement yet"
    assert not (repo / ".perfop").exists()
    # the first write creates the store, whole
    assert run_cli(["run", "--runs", "1", "w"], cwd=repo).code == 0
    assert (repo / ".perfop" / "perfop.db").is_file()
    assert not list((repo / ".perfop").glob(".perfop.db.*"))  # no temporary file left


def test_a_lazy_store_is_created_by_its_first_write(any_store_url: str) -> None:
    store = open_store(any_store_url, lazy=True)
    try:
        assert store.list_runs() == [] and not store.created
        engine = sa.create_engine(
            any_store_url.replace("postgresql://", "postgresql+psycopg://", 1)
        )
        try:
            if engine.dialect.name == "sqlite":
                assert not Path(engine.url.database or "").exists()
            else:
                with engine.connect() as conn:
                    assert sa.inspect(conn).get_table_names() == []
        finally:
            engine.dispose()
        run_id = store.begin_run(workload="w", argv=["true"])
        assert store.created and store.get_run(run_id).status == "running"
    finally:
        store.close()
    reopened = open_store(any_store_url)
    try:
        assert [r.id for r in reopened.list_runs()] == [run_id]
    finally:
        reopened.close()


def test_a_current_store_opens_with_one_read(any_store_url: str) -> None:
    """Issue 18 point 1: no DDL check (inspector queries, CREATE ... IF NOT EXISTS) on open."""
    open_store(any_store_url).close()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(" ".join(statement.split()))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        open_store(any_store_url, reap=False).close()
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    queries = [q for q in statements if not q.upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE"))]
    assert len(queries) == 1 and "perfop_meta" in queries[0], statements


# --- read-only and full stores (real mounts) ---------------------------------------------------
def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def read_only_bind(path: Path) -> Iterator[None]:
    """``path`` made read-only by a bind mount onto itself (unmounted afterwards)."""
    try:
        _mount("--bind", str(path), str(path))
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable("mounts", f"cannot bind-mount (needs root with mount rights): {exc}")
    try:
        _mount("-o", "remount,bind,ro", str(path))
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "1m") -> Iterator[None]:
    path.mkdir(exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
    except (OSError, subprocess.CalledProcessError) as exc:
        unavailable("mounts", f"cannot mount a tmpfs (needs root with mount rights): {exc}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def _fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last block."""
    with (folder / "filler").open("wb", buffering=0) as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 4096)


def _stale_run(db: Path) -> int:
    """A run left ``running`` by a perfop process that no longer exists."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    store = open_store(f"sqlite:///{db}")
    try:
        run_id = store.begin_run(workload="w", argv=["true"])
        with store.write() as conn:
            conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(pid=proc.pid))
    finally:
        store.close()
    return run_id


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _read_commands_work(
    perfop_proc: Callable[..., subprocess.CompletedProcess[str]], repo: Path, stale: int
) -> None:
    listed = perfop_proc(["runs", "list", "--format", "json"], cwd=repo)
    assert listed.returncode == 0, listed.stderr
    runs = {r["id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert runs[1]["samples_count"] == 3 and runs[1]["status"] == "complete"
    assert runs[stale]["status"] == "running"  # not reaped: the store cannot be written
    assert "cannot be written" in listed.stderr and "Traceback" not in listed.stderr
    shown = perfop_proc(["runs", "show", "1", "--format", "json"], cwd=repo)
    assert shown.returncode == 0, shown.stderr
    assert len(json.loads(shown.stdout)["runs"][0]["samples"]) == 3
    history = perfop_proc(["history", "w", "--no-plot", "--format", "json"], cwd=repo)
    assert history.returncode == 0, history.stderr
    assert [p["n"] for p in json.loads(history.stdout)["points"]] == [3]
    status = perfop_proc(["status"], cwd=repo)
    assert status.returncode == 0 and "faults" in status.stdout, status.stderr
    report = perfop_proc(["report", "--format", "md"], cwd=repo)  # rendered, not recorded
    assert report.returncode == 0 and "faults" in report.stdout, report.stderr
    refused = perfop_proc(["run", "--runs", "1", "w"], cwd=repo)
    assert refused.returncode == 2, (refused.returncode, refused.stderr)
    error = [line for line in refused.stderr.splitlines() if line.startswith("perfop: error")]
    assert len(error) == 1 and "cannot be written" in error[0], refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.mounts
@pytest.mark.slow
def test_read_commands_work_on_a_read_only_store(
    git_repo: Callable[..., Path], perfop_proc: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    repo = _repo(git_repo)
    assert perfop_proc(["record", "--runs", "3", "w"], cwd=repo).returncode == 0
    assert perfop_proc(["intake", "--title", "faults"], cwd=repo).returncode == 0
    folder = repo / ".perfop"
    stale = _stale_run(folder / "perfop.db")
    before = _snapshot(folder)
    with read_only_bind(folder):
        _read_commands_work(perfop_proc, repo, stale)
    assert _snapshot(folder) == before  # not a byte changed


@pytest.mark.mounts
@pytest.mark.slow
def test_read_commands_work_on_a_full_disk(
    git_repo: Callable[..., Path], perfop_proc: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    repo = _repo(git_repo)
    folder = repo / ".perfop"
    with small_tmpfs(folder):
        assert perfop_proc(["record", "--runs", "3", "w"], cwd=repo).returncode == 0
        assert perfop_proc(["intake", "--title", "faults"], cwd=repo).returncode == 0
        stale = _stale_run(folder / "perfop.db")
        _fill(folder)
        _read_commands_work(perfop_proc, repo, stale)
        (folder / "filler").unlink()  # space again: writers work and reap
        assert perfop_proc(["run", "--runs", "1", "w"], cwd=repo).returncode == 0
        con = sqlite3.connect(folder / "perfop.db")
        try:
            status = con.execute("SELECT status FROM runs WHERE id = ?", (stale,)).fetchone()[0]
        finally:
            con.close()
        assert status == RunStatus.INTERRUPTED.value


@pytest.mark.mounts
@pytest.mark.slow
def test_a_first_open_on_a_full_disk_leaves_no_store_file(
    git_repo: Callable[..., Path], perfop_proc: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    repo = _repo(git_repo)
    folder = repo / ".perfop"
    with small_tmpfs(folder, size="1m"):
        for room in (0, 96 * 1024):  # full; room for some pages of the schema but not all
            _fill(folder)
            if room:
                os.truncate(folder / "filler", (folder / "filler").stat().st_size - room)
            failed = perfop_proc(["run", "--runs", "1", "w"], cwd=repo)
            assert failed.returncode == 2, (failed.returncode, failed.stderr)
            errors = [ln for ln in failed.stderr.splitlines() if ln.startswith("perfop: error")]
            assert len(errors) == 1 and "Traceback" not in failed.stderr, failed.stderr
            left = sorted(p.name for p in folder.iterdir())
            assert [n for n in left if "perfop.db" in n] == [], left  # no 4 KB store, no temp
            listed = perfop_proc(["runs", "list", "--format", "json"], cwd=repo)
            assert listed.returncode == 0 and json.loads(listed.stdout)["runs"] == []
            (folder / "filler").unlink()
        assert perfop_proc(["run", "--runs", "1", "w"], cwd=repo).returncode == 0
        con = sqlite3.connect(folder / "perfop.db")
        try:
            assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
        finally:
            con.close()


@pytest.mark.mounts
def test_opening_a_store_of_an_older_schema_read_only_says_how_to_upgrade(tmp_path: Path) -> None:
    """A schema-3 store that cannot be written is refused with the fix, never half-migrated."""
    import shutil

    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "perfop.db"
    shutil.copy(Path(__file__).parent.parent / "data" / "store_v3.sqlite", db)
    before = db.read_bytes()
    with (
        read_only_bind(folder),
        pytest.raises(StoreError, match="open it once where it can be written"),
    ):
        open_store(f"sqlite:///{db}")
    assert db.read_bytes() == before
