"""The ``Store`` and its run records; opening it is ``perfop.store.opening``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from perfop.clock import utcnow
from perfop.environment import fingerprint_hash, redact_argv, redact_obj, redact_text
from perfop.errors import StoreError
from perfop.model import Failure, MetricSpec, ProcessResult, RunStatus, Sample
from perfop.store import schema as s


def _normalise_url(url: str) -> str:
    # SQLAlchemy's default PostgreSQL driver is psycopg2; perfop ships psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _display_url(url: str) -> str:
    return redact_text(url)


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
    contention: dict[str, Any] | None = (
        None  # perfop.measure.contention summary; None before schema 3
    )

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

    def __init__(
        self,
        engine: Engine,
        url: str,
        *,
        create: Callable[[], Engine] | None = None,
        read_only: str = "",
    ) -> None:
        self.engine = engine  # an empty in-memory twin until ``create`` has run
        self.url = url
        self.read_only = read_only  # why the store cannot be written; "" when it can
        self.notes: list[str] = []  # what opening skipped and why (shown by the front ends)
        self._create = create

    @property
    def created(self) -> bool:
        """False while a lazily opened store does not exist yet (nothing written so far)."""
        return self._create is None

    @property
    def display_url(self) -> str:
        return _display_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE); creates a lazily opened store."""
        if self.read_only:
            raise StoreError(
                f"store {self.display_url} cannot be written ({self.read_only}); "
                "nothing was recorded"
            )
        if self._create is not None:
            twin, self.engine = self.engine, self._create()
            self._create = None
            twin.dispose()
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
        from perfop.store.samples import encode_block, taken_indices

        now = utcnow()
        ok = [(i, dict(r.metrics), r.stdout_digest or None) for i, r in items if r.ok]
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
            if ok:
                new = [i for i, _, _ in ok]
                clash = (set(new) & taken_indices(conn, run_id)) or (
                    set() if len(set(new)) == len(new) else {new[0]}
                )
                if clash:
                    raise StoreError(
                        f"run {run_id} already has sample {min(clash)}; nothing was recorded"
                    )
                block = encode_block(ok)
                conn.execute(
                    s.sample_blocks.insert().values(run_id=run_id, created_at=now, **block)
                )
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
        from perfop.store.samples import write_summaries

        with self.write() as conn:
            conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(**values))
            if status is not RunStatus.RUNNING:
                write_summaries(conn, run_id)

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
        from perfop.store.samples import failure_counts, sample_counts

        query = sa.select(s.runs).order_by(s.runs.c.id.desc()).limit(limit)
        if workload:
            query = query.where(s.runs.c.workload == workload)
        if kind:
            query = query.where(s.runs.c.kind == kind)
        with self.read() as conn:
            rows = conn.execute(query).mappings().all()
            ids = [r["id"] for r in rows]
            n_samples, n_failures = sample_counts(conn, ids), failure_counts(conn, ids)
        return [
            self._record(
                None, r, with_samples=False, counts=(n_samples[r["id"]], n_failures[r["id"]])
            )
            for r in rows
        ]

    def _record(
        self,
        conn: Connection | None,
        row: Any,
        *,
        with_samples: bool,
        counts: tuple[int, int] | None = None,
    ) -> RunRecord:
        rid = row["id"]
        samples: list[Sample] = []
        failures: list[Failure] = []
        if counts is None:
            from perfop.store.samples import failure_counts, sample_counts

            assert conn is not None
            counts = (sample_counts(conn, [rid])[rid], failure_counts(conn, [rid])[rid])
        n_samples, n_failures = counts
        if with_samples:
            from perfop.store.samples import run_samples

            assert conn is not None
            samples = [Sample(index=d.index, metrics=d.metrics) for d in run_samples(conn, rid)]
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


def open_store(url: str, *, reap: bool = True, lazy: bool = False) -> Store:
    """Open the store at ``url`` (see ``perfop.store.opening.open_store``)."""
    from perfop.store.opening import open_store as _open

    return _open(url, reap=reap, lazy=lazy)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with perfop's SQLite settings (see ``perfop.store.opening``)."""
    from perfop.store.opening import make_engine as _make

    return _make(url)
