"""The store, the same tests against SQLite and PostgreSQL (``any_store_url``).

PostgreSQL runs when PERFOP_TEST_POSTGRES_URL points at a server (each test gets its own database);
otherwise those cases skip with the reason, or fail under PERFOP_REQUIRE_POSTGRES=1 as in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from perfop.errors import StoreError
from perfop.model import MetricSpec, ProcessResult, RunStatus
from perfop.store import open_store
from perfop.store import schema as s
from perfop.store.core import make_engine

FOUNDATION_TABLES = {
    "perfop_meta",
    "environments",
    "runs",
    "sample_blocks",
    "run_metrics",
    "failures",
}
GH_TOKEN = "ghp" + "_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def _result(ok: bool = True, wall: float = 0.01, **extra: float) -> ProcessResult:
    metrics = {"wall_time": wall, "user_time": 0.005, "sys_time": 0.001, "peak_rss": 1e7, **extra}
    return ProcessResult(
        argv=("prog",),
        exit_code=0 if ok else 3,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=0.005,
        sys_time=0.001,
        peak_rss=10_000_000,
        metrics=metrics if ok else {},
        stdout_digest="d" * 64,
        stderr_tail="" if ok else f"Traceback ...\nValueError: bad input {GH_TOKEN}\n",
    )


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _version(url: str) -> int | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar()
            return int(value) if value is not None else None
    finally:
        engine.dispose()


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_schema_is_created_with_its_version(any_store_url: str) -> None:
    store = open_store(any_store_url)
    store.close()
    tables = _tables(any_store_url)
    assert tables >= FOUNDATION_TABLES
    assert set(s.metadata.tables) <= tables  # every registered area's tables too
    assert _version(any_store_url) == s.SCHEMA_VERSION
    # opening again is a no-op: same version, same tables, no error
    open_store(any_store_url).close()
    assert _tables(any_store_url) == tables
    assert _version(any_store_url) == s.SCHEMA_VERSION


def test_the_static_table_list_is_every_table_the_modules_define() -> None:
    # open_store recognises an up-to-date store by perfop.store.TABLES without importing the
    # table modules: a table added to a module and not to the list would never be created.
    from perfop.store import TABLES, load_table_modules

    load_table_modules()
    assert sorted(TABLES) == sorted(s.metadata.tables)


def test_an_up_to_date_store_opens_without_the_table_modules(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'perfop-store.db'}"
    open_store(url).close()  # created: every table
    code = (
        "import sys\n"
        "from perfop.store import TABLE_MODULES, open_store\n"
        f"open_store({url!r}).close()\n"
        "print(sorted(m for m in TABLE_MODULES if f'perfop.store.{m}' in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    # A store that lacks a table of the list is brought up to date on open.
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE reports"))
        conn.execute(s.meta.update().where(s.meta.c.key == "tables").values(value="x"))
    engine.dispose()
    open_store(url).close()
    assert "reports" in _tables(url)


def test_newer_schema_is_refused_and_nothing_is_written(any_store_url: str) -> None:
    # A store written by a future perfop: only its meta table exists so far.
    engine = make_engine(any_store_url)
    with engine.begin() as conn:
        s.meta.create(conn)
        conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION + 1)))
    engine.dispose()
    with pytest.raises(StoreError, match=r"schema version \d+, newer than this perfop"):
        open_store(any_store_url)
    assert _tables(any_store_url) == {"perfop_meta"}, "open_store wrote to a newer store"
    assert _version(any_store_url) == s.SCHEMA_VERSION + 1


def test_newer_schema_on_a_full_store_keeps_its_data(any_store_url: str) -> None:
    store = open_store(any_store_url)
    run_id = store.begin_run(workload="w", argv=["prog"])
    with store.write() as conn:
        conn.execute(
            s.meta.update()
            .where(s.meta.c.key == "schema_version")
            .values(value=str(s.SCHEMA_VERSION + 5))
        )
    store.close()
    with pytest.raises(StoreError, match="upgrade perfop"):
        open_store(any_store_url)
    assert _version(any_store_url) == s.SCHEMA_VERSION + 5
    engine = make_engine(any_store_url)
    with engine.connect() as conn:
        status = conn.execute(sa.select(s.runs.c.status).where(s.runs.c.id == run_id)).scalar()
    engine.dispose()
    assert status == "running"  # not even the stale-run reaper touched it


def test_runs_samples_failures_round_trip(any_store_url: str) -> None:
    store = open_store(any_store_url)
    try:
        env_id = store.add_environment({"hostname": "h", "cpu": {"model": "x"}, "note": GH_TOKEN})
        assert store.add_environment(
            {"hostname": "h", "cpu": {"model": "x"}, "note": GH_TOKEN}
        ) == (env_id)
        run_id = store.begin_run(
            workload="parse",
            argv=["python", "bench.py", "--token", "hunter2", GH_TOKEN],
            cwd="/repo",
            env={"MODE": "fast", "API_KEY": "k-123"},
            ref="main",
            sha="a" * 40,
            dirty=False,
            settings={"runs": 3, "warmup": 1},
            environment_id=env_id,
        )
        other = store.begin_run(workload="render", argv=["render"])
        store.add_result(run_id, 0, _result(wall=0.010, rows=5.0))
        store.add_result(run_id, 1, _result(ok=False))
        store.add_result(run_id, 2, _result(wall=0.012, rows=6.0))
        specs = {
            "wall_time": MetricSpec("wall_time", "s", "lower"),
            "rows": MetricSpec("rows", "rows/s", "higher"),
        }
        store.finish_run(run_id, RunStatus.COMPLETE, specs)

        run = store.get_run(run_id)
        assert (run.workload, run.kind, run.status) == ("parse", "run", "complete")
        assert (run.ref, run.sha, run.dirty, run.cwd) == ("main", "a" * 40, False, "/repo")
        assert run.argv == ["python", "bench.py", "--token", "[REDACTED]", "[REDACTED]"]
        assert run.env == {"MODE": "fast", "API_KEY": "[REDACTED]"}
        assert run.settings == {"runs": 3, "warmup": 1}
        assert run.environment_id == env_id and run.finished_at is not None
        assert (run.n_samples, run.n_failures) == (2, 1)
        assert [x.index for x in run.samples] == [0, 2]
        assert run.values("wall_time") == [0.010, 0.012]
        assert run.values("rows") == [5.0, 6.0]
        assert run.metric_specs["rows"] == MetricSpec("rows", "rows/s", "higher")
        (failure,) = run.failures
        assert (failure.index, failure.exit_code, failure.timed_out) == (1, 3, False)
        assert failure.reason == "exited with code 3"
        assert failure.stderr_tail.endswith("ValueError: bad input [REDACTED]\n")

        env = store.get_environment(env_id)
        assert env is not None and env["hostname"] == "h" and GH_TOKEN not in repr(env)

        listed = store.list_runs()
        assert [r.id for r in listed] == [other, run_id]  # newest first
        assert [r.id for r in store.list_runs(workload="parse")] == [run_id]
        assert listed[1].n_samples == 2 and listed[1].samples == []
        assert store.get_run(other).status == "running"
        with pytest.raises(StoreError, match="no run with id 9999"):
            store.get_run(9999)
    finally:
        store.close()


def test_stale_running_runs_are_reaped_on_open(any_store_url: str) -> None:
    store = open_store(any_store_url)
    stale = store.begin_run(workload="w", argv=["a"])
    alive = store.begin_run(workload="w", argv=["b"])
    done = store.begin_run(workload="w", argv=["c"])
    store.add_result(stale, 0, _result())
    store.finish_run(done, RunStatus.COMPLETE)
    with store.write() as conn:
        conn.execute(s.runs.update().where(s.runs.c.id == stale).values(pid=_dead_pid()))
        conn.execute(s.runs.update().where(s.runs.c.id == alive).values(pid=os.getppid()))
    store.close()

    reopened = open_store(any_store_url)
    try:
        assert reopened.get_run(stale).status == "interrupted"
        assert reopened.get_run(stale).n_samples == 1  # its samples stay
        assert reopened.get_run(stale).finished_at is not None
        assert reopened.get_run(alive).status == "running"  # its perfop is still alive
        assert reopened.get_run(done).status == "complete"
        assert reopened.reap_stale_runs() == 0
    finally:
        reopened.close()


def test_duplicate_sample_index_is_rejected_without_half_rows(any_store_url: str) -> None:
    store = open_store(any_store_url)
    try:
        run_id = store.begin_run(workload="w", argv=["a"])
        store.add_result(run_id, 0, _result())
        with pytest.raises(StoreError, match="already has sample 0"):
            store.add_result(run_id, 0, _result(wall=0.5))
        assert store.get_run(run_id).values("wall_time") == [0.01]
    finally:
        store.close()


def test_bad_urls_are_store_errors(tmp_path) -> None:
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        open_store("not a url")
    with pytest.raises(StoreError, match="no driver for store"):
        open_store("oracle+nosuchdriver://u@h/db")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="does not exist; create it first"):
        open_store(f"sqlite:///{blocker}/sub/perfop.db")
    with pytest.raises(StoreError, match="does not exist; create it first"):
        open_store(f"sqlite:///{tmp_path}/missing/dir/perfop.db")  # issue 16 item 15
    assert not (tmp_path / "missing").exists()


def test_sqlite_store_uses_wal(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/perfop.db"
    store = open_store(url)
    try:
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    finally:
        store.close()


OPEN_WHEN_TOLD = """
import os, sys, time
from perfop.store import open_store
print("ready", flush=True)
go = sys.argv[2]
deadline = time.monotonic() + 120
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.001)
store = open_store(sys.argv[1])
store.close()
print("opened")
"""


@pytest.mark.slow
def test_eight_concurrent_first_opens_all_succeed(any_store_url: str, tmp_path) -> None:
    """Issue 16 item 9: concurrent first opens of a fresh PostgreSQL store lost 3 of 4 runs."""
    import sys

    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN_WHEN_TOLD, any_store_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for p in procs:  # all imported and waiting: the race is at the first open
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()
    outcomes = [p.communicate(timeout=240) for p in procs]
    failures = [err for (out, err), p in zip(outcomes, procs, strict=True) if p.returncode != 0]
    assert failures == [], failures[0]
    assert all(out.strip() == "opened" for out, _ in outcomes)
    store = open_store(any_store_url)
    try:
        with store.read() as conn:
            rows = conn.execute(sa.select(s.meta)).all()
        assert [(r.key, r.value) for r in rows if r.key == "schema_version"] == [
            ("schema_version", str(s.SCHEMA_VERSION))
        ]
    finally:
        store.close()


def test_a_damaged_schema_version_is_a_one_line_store_error(any_store_url: str) -> None:
    """Issue 16 item 13: perfop_meta.schema_version 'banana' was a traceback."""
    open_store(any_store_url).close()
    engine = make_engine(any_store_url)
    with engine.begin() as conn:
        conn.execute(s.meta.update().values(value="banana"))
    engine.dispose()
    with pytest.raises(StoreError, match="schema_version is 'banana', not a number") as info:
        open_store(any_store_url)
    assert "\n" not in str(info.value)


def test_a_foreign_runs_table_is_refused_untouched(any_store_url: str) -> None:
    """Issue 16 item 13: a database with someone else's ``runs`` table."""
    engine = make_engine(any_store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO runs VALUES (42)"))
    try:
        with pytest.raises(StoreError, match=r"table\(s\) runs that perfop did not create"):
            open_store(any_store_url)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == ["runs"]
            assert conn.execute(sa.text("SELECT x FROM runs")).scalar() == 42
    finally:
        engine.dispose()


def test_a_metric_name_of_any_length_keeps_its_run_and_summary(any_store_url: str) -> None:
    """A suite benchmark's name is unbounded: no b-tree index may hold it (PostgreSQL caps an
    index entry at ~2.7 kB, and a refused summary lost the whole run)."""
    import random
    import string

    from perfop.store.samples import read_summaries

    name = "".join(random.Random(10).choice(string.ascii_letters) for _ in range(10_000))
    store = open_store(any_store_url)
    try:
        run_id = store.begin_run(workload="w", argv=["a"])
        store.add_result(run_id, 0, _result(**{name: 3.0}))
        store.finish_run(run_id, RunStatus.COMPLETE)
        assert store.get_run(run_id).values(name) == [3.0]
        with store.read() as conn:
            assert read_summaries(conn, [run_id], name)[run_id].stats["median"] == 3.0
    finally:
        store.close()
