"""Opening the store (engine set-up, schema creation and migration) and the run records."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from perfop.environment import fingerprint_hash, redact_argv, redact_obj, redact_text
from perfop.errors import StoreError
from perfop.model import Failure, MetricSpec, ProcessResult, RunStatus, Sample
from perfop.store import schema as s


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _normalise_url(url: str) -> str:
    # SQLAlchemy's default PostgreSQL driver is psycopg2; perfop ships psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _display_url(url: str) -> str:
    return redact_text(url)


def make_engine(url: str) -> Engine:
    url = _normalise_url(url)
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL {_display_url(url)!r} is not a valid SQLAlchemy URL; "
            "use e.g. sqlite:///.perfop/perfop.db or postgresql://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            path = Path(database)
            if not path.parent.is_dir() and not (
                path.parent.name == ".perfop" and path.parent.parent.is_dir()
            ):
                # Only perfop's own folder is created; a typo must not make directories.
                raise StoreError(
                    f"store {_display_url(url)}: folder {path.parent} does not exist; "
                    "create it first or check the URL"
                )
            try:
                path.parent.mkdir(exist_ok=True)
                _self_ignore(path.parent)
            except OSError as exc:
                raise StoreError(
                    f"cannot create store directory {path.parent}: {exc.strerror}"
                ) from None
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_conn: Any, _rec: Any) -> None:
            # Let SQLAlchemy's "begin" event emit BEGIN (the pysqlite recipe in its docs).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA busy_timeout=60000")
            _set_wal(cur)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # Writers take the lock up front: a deferred transaction that upgrades to a write
            # can fail with SQLITE_BUSY at once instead of waiting for the busy timeout.
            mode = "DEFERRED" if conn.get_execution_options().get("perfop_read") else "IMMEDIATE"
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError):
        raise StoreError(
            f"no driver for store {_display_url(url)!r}; "
            "install it with: pip install 'perfop[postgres]'"
        ) from None


def _set_wal(cur: Any, *, attempts: int = 200) -> None:
    """Switch to WAL, retrying while another process holds the lock.

    Changing the journal mode needs an exclusive lock, and SQLite may answer SQLITE_BUSY at once
    instead of calling the busy handler, so two perfop processes creating one new store at the
    same moment would otherwise fail with "database is locked".
    """
    for attempt in range(attempts):
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(min(0.01 * (attempt + 1), 0.2))


def _self_ignore(directory: Path) -> None:
    """perfop's own folder ignores itself, so it never shows up in the user's ``git status``."""
    if directory.name == ".perfop":
        marker = directory / ".gitignore"
        if not marker.exists():
            marker.write_text("# written by perfop: everything here is perfop's own\n*\n")


@dataclass(frozen=True)
class RunRecord:
    """A stored run with (optionally) its samples and failures."""

    id: int
    workload: str
    kind: str
    status: str
    ref: str | None
    sha: str | None
    dirty: bool | None
    argv: list[str]
    cwd: str | None
    env: dict[str, str]
    settings: dict[str, Any]
    metric_specs: dict[str, MetricSpec]
    environment_id: int | None
    comparison_id: int | None
    side: str | None
    started_at: str
    finished_at: str | None
    n_samples: int = 0
    n_failures: int = 0
    samples: list[Sample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    contention: dict[str, Any] | None = None  # perfop.contention summary; None before schema 3

    def values(self, metric: str) -> list[float]:
        return [x.metrics[metric] for x in self.samples if metric in x.metrics]

    def summary_document(self) -> dict[str, Any]:
        """The run as ``perfop runs list --format json`` (and the MCP ``runs`` tool) show it."""
        return {
            "id": self.id,
            "workload": self.workload,
            "kind": self.kind,
            "status": self.status,
            "ref": self.ref,
            "sha": self.sha,
            "dirty": self.dirty,
            "command": self.argv,
            "cwd": self.cwd,
            "env": self.env,
            "settings": self.settings,
            "environment_id": self.environment_id,
            "comparison_id": self.comparison_id,
            "side": self.side,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "samples_count": self.n_samples,
            "failures_count": self.n_failures,
            "contention": self.contention,
        }


class Store:
    """Typed access to the store; other areas' query helpers take a ``Store`` and use ``engine``."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @property
    def display_url(self) -> str:
        return _display_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise StoreError(f"store {self.display_url}: write failed: {exc.orig}") from None

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """One read transaction (SQLite: deferred, so readers never block writers)."""
        with self.engine.connect().execution_options(perfop_read=True) as conn, conn.begin():
            yield conn

    # --- environments -----------------------------------------------------------------------
    def add_environment(self, fingerprint: Mapping[str, Any]) -> int:
        data = redact_obj(dict(fingerprint))
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
        with self.write() as conn:
            found = conn.execute(
                sa.select(s.environments.c.id).where(s.environments.c.hash == digest)
            ).scalar()
            if found is not None:
                return int(found)
            return int(
                conn.execute(
                    s.environments.insert().values(
                        hash=digest,
                        fingerprint=fingerprint_hash(data),
                        data=data,
                        created_at=utcnow(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )

    def get_environment(self, env_id: int) -> dict[str, Any] | None:
        with self.read() as conn:
            row = conn.execute(
                sa.select(s.environments.c.data).where(s.environments.c.id == env_id)
            ).scalar()
        return dict(row) if row is not None else None

    # --- runs ---------------------------------------------------------------------------------
    def begin_run(
        self,
        *,
        workload: str,
        argv: Sequence[str],
        kind: str = "run",
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        ref: str | None = None,
        sha: str | None = None,
        dirty: bool | None = None,
        settings: Mapping[str, Any] | None = None,
        environment_id: int | None = None,
        comparison_id: int | None = None,
        side: str | None = None,
    ) -> int:
        """Insert a run in status ``running``; argv, env and settings are redacted here."""
        values = dict(
            workload=workload,
            kind=kind,
            status=RunStatus.RUNNING.value,
            ref=ref,
            sha=sha,
            dirty=dirty,
            argv=redact_argv(argv),
            cwd=redact_text(cwd) if cwd else None,
            env=redact_obj(dict(env or {})),
            settings=redact_obj(dict(settings or {})),
            environment_id=environment_id,
            comparison_id=comparison_id,
            side=side,
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=utcnow(),
        )
        with self.write() as conn:
            return int(conn.execute(s.runs.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]

    def add_result(self, run_id: int, index: int, result: ProcessResult) -> None:
        """Record one measured process: a sample when it succeeded, else a failure."""
        self.add_results(run_id, [(index, result)])

    def sample_writer(self, run_id: int, *, flush_interval: float = 0.25) -> SampleWriter:
        """A buffered writer for a run's results (see ``SampleWriter``)."""
        return SampleWriter(self, run_id, flush_interval=flush_interval)

    def add_results(self, run_id: int, items: Sequence[tuple[int, ProcessResult]]) -> None:
        """Record several measured processes of one run in one transaction."""
        if not items:
            return
        now = utcnow()
        samples_rows = [
            dict(
                run_id=run_id,
                idx=i,
                metrics=dict(r.metrics),
                stdout_digest=r.stdout_digest,
                created_at=now,
            )
            for i, r in items
            if r.ok
        ]
        failure_rows = [
            dict(
                run_id=run_id,
                idx=i,
                reason=r.describe_failure(),
                exit_code=r.exit_code,
                signal=r.signal,
                timed_out=r.timed_out,
                wall_time=r.wall_time,
                stderr_tail=redact_text(r.stderr_tail),
                created_at=now,
            )
            for i, r in items
            if not r.ok
        ]
        with self.write() as conn:
            if samples_rows:
                conn.execute(s.samples.insert(), samples_rows)
            if failure_rows:
                conn.execute(s.failures.insert(), failure_rows)

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        metric_specs: Mapping[str, MetricSpec] | None = None,
        *,
        contention: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status.value, "finished_at": utcnow()}
        if contention is not None:
            values["contention"] = dict(contention)
        if metric_specs is not None:
            values["metric_specs"] = {
                n: {"unit": m.unit, "better": m.better} for n, m in metric_specs.items()
            }
        with self.write() as conn:
            conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(**values))

    def set_run_links(self, run_id: int, *, comparison_id: int | None, side: str | None) -> None:
        with self.write() as conn:
            conn.execute(
                s.runs.update()
                .where(s.runs.c.id == run_id)
                .values(comparison_id=comparison_id, side=side)
            )

    def get_run(self, run_id: int, *, with_samples: bool = True) -> RunRecord:
        if not 0 < run_id < 2**63:
            raise StoreError(f"no run with id {run_id}; list runs with: perfop runs list")
        with self.read() as conn:
            row = conn.execute(sa.select(s.runs).where(s.runs.c.id == run_id)).mappings().first()
            if row is None:
                raise StoreError(f"no run with id {run_id}; list runs with: perfop runs list")
            return self._record(conn, row, with_samples=with_samples)

    def list_runs(
        self, *, workload: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        query = sa.select(s.runs).order_by(s.runs.c.id.desc()).limit(limit)
        if workload:
            query = query.where(s.runs.c.workload == workload)
        if kind:
            query = query.where(s.runs.c.kind == kind)
        with self.read() as conn:
            rows = conn.execute(query).mappings().all()
            return [self._record(conn, r, with_samples=False) for r in rows]

    def _record(self, conn: Connection, row: Any, *, with_samples: bool) -> RunRecord:
        rid = row["id"]
        n_samples = conn.execute(
            sa.select(sa.func.count()).select_from(s.samples).where(s.samples.c.run_id == rid)
        ).scalar_one()
        n_failures = conn.execute(
            sa.select(sa.func.count()).select_from(s.failures).where(s.failures.c.run_id == rid)
        ).scalar_one()
        samples: list[Sample] = []
        failures: list[Failure] = []
        if with_samples:
            samples = [
                Sample(index=r.idx, metrics=dict(r.metrics))
                for r in conn.execute(
                    sa.select(s.samples.c.idx, s.samples.c.metrics)
                    .where(s.samples.c.run_id == rid)
                    .order_by(s.samples.c.idx)
                )
            ]
            failures = [
                Failure(
                    index=r.idx,
                    reason=r.reason,
                    exit_code=r.exit_code,
                    signal=r.signal,
                    timed_out=bool(r.timed_out),
                    wall_time=r.wall_time,
                    stderr_tail=r.stderr_tail,
                )
                for r in conn.execute(
                    sa.select(s.failures)
                    .where(s.failures.c.run_id == rid)
                    .order_by(s.failures.c.idx)
                )
            ]
        specs = {
            name: MetricSpec(name, spec.get("unit", ""), spec.get("better", "lower"))
            for name, spec in (row["metric_specs"] or {}).items()
        }
        return RunRecord(
            id=rid,
            workload=row["workload"],
            kind=row["kind"],
            status=row["status"],
            ref=row["ref"],
            sha=row["sha"],
            dirty=row["dirty"],
            argv=list(row["argv"]),
            cwd=row["cwd"],
            env=dict(row["env"]),
            settings=dict(row["settings"]),
            metric_specs=specs,
            environment_id=row["environment_id"],
            comparison_id=row["comparison_id"],
            side=row["side"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            n_samples=n_samples,
            n_failures=n_failures,
            samples=samples,
            failures=failures,
            contention=row.get("contention"),
        )

    def reap_stale_runs(self) -> int:
        """Mark runs left ``running`` by a perfop process that no longer exists as interrupted."""
        host = socket.gethostname()
        with self.read() as conn:
            rows = conn.execute(
                sa.select(s.runs.c.id, s.runs.c.pid).where(
                    s.runs.c.status == RunStatus.RUNNING.value, s.runs.c.host == host
                )
            ).all()
        dead = [r.id for r in rows if r.pid and not _pid_alive(r.pid)]
        if dead:
            with self.write() as conn:
                conn.execute(
                    s.runs.update()
                    .where(s.runs.c.id.in_(dead))
                    .values(status=RunStatus.INTERRUPTED.value, finished_at=utcnow())
                )
        return len(dead)


class SampleWriter:
    """Writes a run's results in few transactions without risking more than a moment's work.

    Results are buffered and flushed when ``flush_interval`` seconds have passed since the last
    flush, and always on ``close`` — which a ``with`` block runs on Ctrl-C and SIGTERM too. So an
    interrupted command keeps every completed sample, a hard kill (SIGKILL) loses at most the
    last ``flush_interval`` seconds of them, and no row is ever half-written. For workloads slower
    than the interval every sample is its own transaction, as before; for millisecond workloads
    this removes most of the per-sample cost of a commit.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        *,
        flush_interval: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._run_id = store, run_id
        self._interval, self._clock = flush_interval, clock
        self._pending: list[tuple[int, ProcessResult]] = []
        self._last = clock()

    def add(self, index: int, result: ProcessResult) -> None:
        self._pending.append((index, result))
        if self._clock() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        self._store.add_results(self._run_id, pending)
        self._last = self._clock()

    def close(self) -> None:
        if self._pending:
            self.flush()

    def __enter__(self) -> SampleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_store(url: str, *, reap: bool = True) -> Store:
    """Open (creating or migrating) the store at ``url``.

    A store written by a newer perfop raises ``StoreError`` before anything is written.
    """
    from perfop.store import load_table_modules

    load_table_modules()
    engine = make_engine(url)
    store = Store(engine, url)
    try:
        _ensure_schema(store)
    except OperationalError as exc:
        engine.dispose()
        raise StoreError(f"cannot open store {_display_url(url)}: {exc.orig}") from None
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open store {_display_url(url)}: {exc}") from None
    except StoreError:
        engine.dispose()
        raise
    if reap:
        store.reap_stale_runs()
    return store


# PostgreSQL advisory lock key for schema changes ("perfop" in ASCII): SQLite's write
# transaction (BEGIN IMMEDIATE) already serializes them, PostgreSQL's does not lock DDL.
SCHEMA_LOCK = 0x706572666F70


def _lock_schema(conn: Connection) -> None:
    """Serialize schema creation and migration across processes (held until commit)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})


def _read_version(conn: Connection) -> int | None:
    inspector = sa.inspect(conn)
    if not inspector.has_table(s.meta.name):
        foreign = sorted(set(inspector.get_table_names()) & set(s.metadata.tables))
        if foreign:
            raise StoreError(
                f"store {_display_url(str(conn.engine.url))} has table(s) {', '.join(foreign)} "
                "that perfop did not create (no perfop_meta); give perfop a store of its own"
            )
        return None
    value = conn.execute(sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")).scalar()
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise StoreError(
            f"store {_display_url(str(conn.engine.url))}: perfop_meta.schema_version is "
            f"{value[:40]!r}, not a number; the store is damaged or not perfop's"
        ) from None


def _ensure_schema(store: Store) -> None:
    # Fast path: a read to see whether anything needs doing.
    with store.read() as conn:
        version = _read_version(conn)
    if version is not None and version > s.SCHEMA_VERSION:
        raise StoreError(
            f"store {store.display_url} has schema version {version}, newer than this perfop "
            f"understands ({s.SCHEMA_VERSION}); upgrade perfop"
        )
    if version == s.SCHEMA_VERSION and _all_tables_present(store):
        return
    with store.write() as conn:  # re-check under the write lock: another process may have won
        _lock_schema(conn)
        version = _read_version(conn)
        if version is None:
            s.metadata.create_all(conn)
            conn.execute(s.meta.insert().values(key="schema_version", value=str(s.SCHEMA_VERSION)))
            return
        if version > s.SCHEMA_VERSION:
            raise StoreError(
                f"store {store.display_url} has schema version {version}, newer than this "
                f"perfop understands ({s.SCHEMA_VERSION}); upgrade perfop"
            )
        for target in range(version + 1, s.SCHEMA_VERSION + 1):
            step = s.MIGRATIONS.get(target)
            if step is None:
                raise StoreError(f"no migration from schema {target - 1} to {target}")
            step(conn)
        s.metadata.create_all(conn)  # tables added since, which need no data migration
        conn.execute(
            s.meta.update()
            .where(s.meta.c.key == "schema_version")
            .values(value=str(s.SCHEMA_VERSION))
        )


def _all_tables_present(store: Store) -> bool:
    with store.read() as conn:
        names = set(sa.inspect(conn).get_table_names())
    return all(t in names for t in s.metadata.tables)
