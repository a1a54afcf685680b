"""Store tables and queries for history: commit metadata of recorded runs and bulk imports.

``commits`` holds what the runs table lacks to order a series by commit: commit time, branch and
subject, keyed by sha (one row per commit, first writer wins). The series query joins runs to it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from perfop.clock import utcnow
from perfop.model import MetricSpec, RunStatus
from perfop.store import schema as s
from perfop.store.core import Store

commits = sa.Table(
    "commits",
    s.metadata,
    sa.Column("sha", sa.String(64), primary_key=True),
    sa.Column("committed_at", sa.String(40)),
    sa.Column("branch", sa.Text),
    sa.Column("subject", sa.Text),
    sa.Column("recorded_at", sa.String(40), nullable=False),
)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    committed_at: str | None
    branch: str | None
    subject: str | None = None


@dataclass(frozen=True)
class SeriesRun:
    """A run of the series with the commit it measured."""

    run_id: int
    kind: str
    sha: str
    ref: str | None
    dirty: bool | None
    started_at: str
    committed_at: str | None
    branch: str | None
    subject: str | None


def save_commit(store: Store, info: CommitInfo) -> None:
    """Remember a commit's time, branch and subject (kept as first recorded)."""
    with store.write() as conn:
        found = conn.execute(sa.select(commits.c.sha).where(commits.c.sha == info.sha)).first()
        if found is None:
            conn.execute(
                commits.insert().values(
                    sha=info.sha,
                    committed_at=info.committed_at,
                    branch=info.branch,
                    subject=info.subject,
                    recorded_at=utcnow(),
                )
            )


def set_run_kind(store: Store, run_ids: Iterable[int], kind: str) -> None:
    ids = list(run_ids)
    if ids:
        with store.write() as conn:
            conn.execute(s.runs.update().where(s.runs.c.id.in_(ids)).values(kind=kind))


def insert_imported_run(
    store: Store,
    *,
    workload: str,
    argv: Sequence[str],
    samples: Sequence[Mapping[str, float]],
    settings: Mapping[str, Any],
    metric_specs: Mapping[str, MetricSpec],
    environment_id: int | None,
    sha: str | None,
    ref: str | None,
    dirty: bool | None,
) -> int:
    """One complete imported run with all its samples, in as few transactions as the API allows."""
    run_id = store.begin_run(
        workload=workload,
        argv=argv,
        kind="import",
        ref=ref,
        sha=sha,
        dirty=dirty,
        settings=settings,
        environment_id=environment_id,
    )
    items = [(i, dict(m), None) for i, m in enumerate(samples)]
    if items:
        from perfop.store.samples import encode_block

        with store.write() as conn:
            conn.execute(
                s.sample_blocks.insert().values(
                    run_id=run_id, created_at=utcnow(), **encode_block(items)
                )
            )
    status = RunStatus.COMPLETE if items else RunStatus.FAILED
    store.finish_run(run_id, status, metric_specs)
    return run_id


# A series run's fields, in ``SeriesRun``'s order (the runs table joined to commits).
_SERIES_COLUMNS = (
    s.runs.c.id,
    s.runs.c.kind,
    s.runs.c.sha,
    s.runs.c.ref,
    s.runs.c.dirty,
    s.runs.c.started_at,
    commits.c.committed_at,
    commits.c.branch,
    commits.c.subject,
)


def _series_filter(kinds: Sequence[str]) -> tuple[sa.ColumnElement[bool], ...]:
    """Complete runs of a known commit that are not A/B comparison sides, of these kinds."""
    return (
        s.runs.c.status == RunStatus.COMPLETE.value,
        s.runs.c.sha.is_not(None),
        s.runs.c.comparison_id.is_(None),
        s.runs.c.kind.in_(list(kinds)),
    )


def series_runs(
    store: Store, workload: str, *, kinds: Sequence[str] = ("record", "import", "run")
) -> list[SeriesRun]:
    """Complete runs of ``workload`` that measured a known commit (not A/B comparison sides)."""
    query = (
        sa.select(*_SERIES_COLUMNS)
        .select_from(s.runs.outerjoin(commits, commits.c.sha == s.runs.c.sha))
        .where(s.runs.c.workload == workload, *_series_filter(kinds))
        .order_by(s.runs.c.id)
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
    return [SeriesRun(*r) for r in rows]


@dataclass(frozen=True)
class SummarizedRun:
    """A run of a series with the stored summary of one metric (``n`` 0: no summary row)."""

    run: SeriesRun
    n: int
    value: float


def series_summaries(
    store: Store,
    metric: str,
    statistic: str,
    workloads: Sequence[str] = (),
    *,
    kinds: Sequence[str] = ("record", "import", "run"),
) -> dict[str, list[SummarizedRun]]:
    """``series_runs`` of every workload (or those named) with each run's stored ``statistic``
    of ``metric``, in one query (runs joined to commits and ``run_metrics``; no sample decoded).
    """
    t = s.run_metrics
    query = (
        sa.select(s.runs.c.workload, *_SERIES_COLUMNS, t.c.n, t.c[statistic])
        .select_from(
            s.runs.outerjoin(commits, commits.c.sha == s.runs.c.sha).outerjoin(
                t, sa.and_(t.c.run_id == s.runs.c.id, t.c.metric == metric)
            )
        )
        .where(*_series_filter(kinds))
        .order_by(s.runs.c.id)
    )
    if workloads:
        query = query.where(s.runs.c.workload.in_(list(workloads)))
    out: dict[str, list[SummarizedRun]] = {}
    with store.read() as conn:
        rows = conn.execute(query).all()
    nan = float("nan")
    for wl, *fields, n, value in rows:
        out.setdefault(wl, []).append(
            SummarizedRun(SeriesRun(*fields), int(n or 0), nan if value is None else float(value))
        )
    return out


def run_metrics_of(store: Store, run_ids: Sequence[int]) -> dict[int, list[dict[str, float]]]:
    """Each run's samples as metric dicts in index order (decodes them: exports, not history)."""
    from perfop.store.samples import decode_block, read_blocks

    with store.read() as conn:
        blocks = read_blocks(conn, list(run_ids))
    out: dict[int, list[dict[str, float]]] = {}
    for rid, rows in blocks.items():
        decoded = sorted((d for row in rows for d in decode_block(row)), key=lambda d: d.index)
        out[rid] = [d.metrics for d in decoded]
    return out


def commit_statistics(
    store: Store, groups: Sequence[Sequence[int]], metric: str, statistic: str
) -> list[tuple[float, int] | None]:
    """``(statistic, n)`` of ``metric`` over all samples of each group of runs (None: no values).

    A group of one run reads the run's stored summary (one row, no sample decoded); a commit
    measured by several runs, or a run without a summary, is computed from its samples.
    """
    from perfop.stats import summarize
    from perfop.store.samples import block_values, read_blocks, read_summaries

    single = [g[0] for g in groups if len(g) == 1]
    with store.read() as conn:
        summaries = read_summaries(conn, single, metric)
        raw_ids = [rid for g in groups if not (len(g) == 1 and g[0] in summaries) for rid in g]
        blocks = read_blocks(conn, raw_ids) if raw_ids else {}
    out: list[tuple[float, int] | None] = []
    for group in groups:
        if len(group) == 1 and group[0] in summaries:
            found = summaries[group[0]]
            out.append((found.stats[statistic], found.n))
            continue
        values = block_values((b for rid in group for b in blocks[rid]), metric)
        out.append((summarize(values).statistic(statistic), len(values)) if values else None)
    return out


def known_workloads(store: Store) -> list[str]:
    with store.read() as conn:
        rows = conn.execute(sa.select(s.runs.c.workload).distinct().order_by(s.runs.c.workload))
        return [r.workload for r in rows]


def imported_keys(store: Store) -> set[tuple[str, str]]:
    """(file digest, workload) of every imported run, so a file is not imported twice."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(s.runs.c.workload, s.runs.c.settings).where(s.runs.c.kind == "import")
        ).all()
    keys: set[tuple[str, str]] = set()
    for row in rows:
        digest = ((row.settings or {}).get("import") or {}).get("digest")
        if digest:
            keys.add((str(digest), row.workload))
    return keys
