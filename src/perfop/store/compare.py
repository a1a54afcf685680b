"""Comparison and calibration tables and their plain queries.

``comparisons``: one row per ``perfop compare`` (refs, shas, seed, status, the full JSON
document). ``comparison_workloads`` / ``comparison_metrics``: its per-workload and per-metric
results; both sides' runs link back through ``runs.comparison_id`` and ``runs.side``.
``calibrations``: A/A noise per workload, read by ``compare`` to size its first batch.
The tables only add to the schema, so ``create_all`` brings an older store up to date.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from perfop.clock import utcnow
from perfop.environment import redact_obj
from perfop.store import schema as s
from perfop.store.core import Store, _pid_alive

comparisons = sa.Table(
    "comparisons",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("base_ref", sa.Text, nullable=False),
    sa.Column("base_sha", sa.String(64), nullable=False, index=True),
    sa.Column("cand_ref", sa.Text, nullable=False),
    sa.Column("cand_sha", sa.String(64), nullable=False, index=True),
    sa.Column("seed", sa.BigInteger, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("alpha", sa.Float, nullable=False),
    sa.Column("harness", sa.String(16), nullable=False),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
    sa.Column("document", sa.JSON),
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("contention", sa.JSON),  # schema 3: perfop.measure.contention summary, all workloads
)

comparison_workloads = sa.Table(
    "comparison_workloads",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "comparison_id",
        sa.Integer,
        sa.ForeignKey("comparisons.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("workload", sa.Text, nullable=False, index=True),
    sa.Column("verdict", sa.String(16)),
    sa.Column("pairs", sa.Integer, nullable=False),
    sa.Column("behavior", sa.String(16), nullable=False),
    sa.Column("harness", sa.String(16), nullable=False),
    sa.Column("harness_touched", sa.Boolean, nullable=False),
    sa.Column("failure", sa.Text),
    sa.Column("base_run_id", sa.Integer, sa.ForeignKey("runs.id")),
    sa.Column("cand_run_id", sa.Integer, sa.ForeignKey("runs.id")),
    sa.Column("elapsed", sa.Float, nullable=False),
    sa.Column("detail", sa.JSON, nullable=False),
)

comparison_metrics = sa.Table(
    "comparison_metrics",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "comparison_workload_id",
        sa.Integer,
        sa.ForeignKey("comparison_workloads.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("unit", sa.String(32), nullable=False),
    sa.Column("better", sa.String(8), nullable=False),
    sa.Column("base_median", sa.Float),
    sa.Column("candidate_median", sa.Float),
    sa.Column("ratio", sa.Float),
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("p_value", sa.Float),
    sa.Column("verdict", sa.String(16), nullable=False),
)

calibrations = sa.Table(
    "calibrations",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workload", sa.Text, nullable=False, index=True),
    sa.Column("ref", sa.Text, nullable=False),
    sa.Column("sha", sa.String(64), nullable=False),
    sa.Column("pairs", sa.Integer, nullable=False),
    sa.Column("noise_sd", sa.Float),
    sa.Column("mde", sa.Float),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("host", sa.Text),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)


def _clean(value: float | None) -> float | None:
    """NaN and infinities do not belong in SQL columns: they become NULL."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return float(value)


def begin_comparison(
    store: Store,
    *,
    base_ref: str,
    base_sha: str,
    cand_ref: str,
    cand_sha: str,
    seed: int,
    threshold: float,
    alpha: float,
    harness: str,
    environment_id: int | None,
) -> int:
    """Insert a comparison in status ``running`` and return its id."""
    with store.write() as conn:
        result = conn.execute(
            comparisons.insert().values(
                status="running",
                base_ref=base_ref,
                base_sha=base_sha,
                cand_ref=cand_ref,
                cand_sha=cand_sha,
                seed=seed,
                threshold=threshold,
                alpha=alpha,
                harness=harness,
                environment_id=environment_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                started_at=utcnow(),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def add_workload_result(
    store: Store, comparison_id: int, row: Mapping[str, Any], metrics: Sequence[Mapping[str, Any]]
) -> int:
    """Store one workload's result and its metrics in one transaction."""
    detail = redact_obj({k: v for k, v in row.items() if k not in _WORKLOAD_COLUMNS})
    with store.write() as conn:
        wid = int(
            conn.execute(
                comparison_workloads.insert().values(
                    comparison_id=comparison_id,
                    **{k: row.get(k) for k in _WORKLOAD_COLUMNS},
                    detail=detail,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for m in metrics:
            conn.execute(
                comparison_metrics.insert().values(
                    comparison_workload_id=wid,
                    metric=m["name"],
                    unit=m["unit"],
                    better=m["better"],
                    verdict=m["verdict"],
                    **{k: _clean(m.get(k)) for k in _METRIC_FLOATS},
                )
            )
    return wid


_WORKLOAD_COLUMNS = (
    "workload",
    "verdict",
    "pairs",
    "behavior",
    "harness",
    "harness_touched",
    "failure",
    "base_run_id",
    "cand_run_id",
    "elapsed",
)
_METRIC_FLOATS = (
    "base_median",
    "candidate_median",
    "ratio",
    "ci_low",
    "ci_high",
    "p_value",
)


def finish_comparison(
    store: Store,
    comparison_id: int,
    status: str,
    document: Mapping[str, Any] | None,
    *,
    contention: Mapping[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": utcnow()}
    if document is not None:
        values["document"] = redact_obj(dict(document))
    if contention is not None:
        values["contention"] = dict(contention)
    with store.write() as conn:
        conn.execute(comparisons.update().where(comparisons.c.id == comparison_id).values(**values))


def reap_stale_comparisons(store: Store) -> int:
    """Mark comparisons left ``running`` by a dead perfop process on this host as interrupted."""
    host = socket.gethostname()
    with store.read() as conn:
        rows = conn.execute(
            sa.select(comparisons.c.id, comparisons.c.pid).where(
                comparisons.c.status == "running", comparisons.c.host == host
            )
        ).all()
    dead = [r.id for r in rows if r.pid and not _pid_alive(r.pid)]
    if dead:
        with store.write() as conn:
            conn.execute(
                comparisons.update()
                .where(comparisons.c.id.in_(dead))
                .values(status="interrupted", finished_at=utcnow())
            )
    return len(dead)


def get_comparison(store: Store, comparison_id: int) -> dict[str, Any] | None:
    """The stored row of a comparison (``document`` holds the full JSON), or None."""
    with store.read() as conn:
        row = (
            conn.execute(sa.select(comparisons).where(comparisons.c.id == comparison_id))
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def comparison_rows(store: Store, comparison_id: int) -> list[dict[str, Any]]:
    """Workload rows of a comparison, each with its ``metrics`` list."""
    with store.read() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(comparison_workloads)
                .where(comparison_workloads.c.comparison_id == comparison_id)
                .order_by(comparison_workloads.c.id)
            ).mappings()
        ]
        for r in rows:
            r["metrics"] = [
                dict(m)
                for m in conn.execute(
                    sa.select(comparison_metrics)
                    .where(comparison_metrics.c.comparison_workload_id == r["id"])
                    .order_by(comparison_metrics.c.id)
                ).mappings()
            ]
    return rows


def list_comparisons(store: Store, *, limit: int = 50) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [
            dict(r)
            for r in conn.execute(
                sa.select(comparisons).order_by(comparisons.c.id.desc()).limit(limit)
            ).mappings()
        ]


def add_calibration(
    store: Store,
    *,
    workload: str,
    ref: str,
    sha: str,
    pairs: int,
    noise_sd: float | None,
    mde: float | None,
    threshold: float,
    environment_id: int | None,
    document: Mapping[str, Any],
) -> int:
    with store.write() as conn:
        result = conn.execute(
            calibrations.insert().values(
                workload=workload,
                ref=ref,
                sha=sha,
                pairs=pairs,
                noise_sd=_clean(noise_sd),
                mde=_clean(mde),
                threshold=threshold,
                host=socket.gethostname(),
                environment_id=environment_id,
                document=redact_obj(dict(document)),
                created_at=utcnow(),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def latest_calibration(store: Store, workload: str) -> dict[str, Any] | None:
    """The newest calibration of ``workload`` made on this host, or None."""
    with store.read() as conn:
        row = (
            conn.execute(
                sa.select(calibrations)
                .where(
                    calibrations.c.workload == workload,
                    calibrations.c.host == socket.gethostname(),
                )
                .order_by(calibrations.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None
