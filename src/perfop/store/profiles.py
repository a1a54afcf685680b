"""Profile tables and their plain queries.

``profiles``: one row per ``perfop profile`` invocation and mode (cpu/memory), linked to the
workload, ref/sha and environment, with the artifact paths (relative to the repository root).
``hotspots``: its ranked rows, each with the stable id a hypothesis cites as evidence.
The tables only add to the schema, so ``create_all`` brings an older store up to date.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from perfop.clock import utcnow
from perfop.records.profiling import HotSpot, ProfileReport, guess_origin
from perfop.store import schema as s
from perfop.store.core import Store

profiles = sa.Table(
    "profiles",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("profile_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("backend", sa.String(32), nullable=False),
    sa.Column("workload", sa.Text, index=True),
    sa.Column("argv", sa.JSON, nullable=False),
    sa.Column("cwd", sa.Text),
    sa.Column("ref", sa.Text),
    sa.Column("sha", sa.String(64), index=True),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
    sa.Column("unit", sa.String(8), nullable=False),
    sa.Column("total", sa.Float, nullable=False),
    sa.Column("wall_time", sa.Float, nullable=False),
    sa.Column("peak_bytes", sa.BigInteger),
    sa.Column("sample_count", sa.Integer, nullable=False),
    sa.Column("all_frames", sa.Boolean, nullable=False),
    sa.Column("artifact_dir", sa.Text, nullable=False),
    sa.Column("artifacts", sa.JSON, nullable=False),
    sa.Column("notes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("profile_id", "kind", name="uq_profiles_profile_kind"),
)

hotspots = sa.Table(
    "hotspots",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "profile_row", sa.Integer, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("hotspot_id", sa.String(32), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("function", sa.Text, nullable=False),
    sa.Column("file", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("self_pct", sa.Float, nullable=False),
    sa.Column("total_pct", sa.Float, nullable=False),
    sa.Column("self_value", sa.Float, nullable=False),
    sa.Column("total_value", sa.Float, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("in_repo", sa.Boolean, nullable=False),
)


@dataclass(frozen=True)
class StoredProfile:
    """One stored profile row (one mode of one invocation) with its hot spots."""

    row_id: int
    profile_id: str
    kind: str
    backend: str
    workload: str | None
    ref: str | None
    sha: str | None
    environment_id: int | None
    artifact_dir: str
    artifacts: dict[str, str]
    wall_time: float
    peak_bytes: int | None
    created_at: str
    hotspots: tuple[HotSpot, ...]


def save_profile(
    store: Store, report: ProfileReport, *, environment_id: int | None = None
) -> list[int]:
    """Store every part of ``report`` in one transaction; returns the profile row ids."""
    ids: list[int] = []
    with store.write() as conn:
        for part in report.parts:
            row_id = int(
                conn.execute(
                    profiles.insert().values(
                        profile_id=report.id,
                        kind=part.kind,
                        backend=part.backend,
                        workload=report.workload,
                        argv=list(report.argv),
                        cwd=report.cwd,
                        ref=report.ref,
                        sha=report.sha,
                        environment_id=environment_id,
                        unit=part.unit,
                        total=part.total,
                        wall_time=part.wall_time,
                        peak_bytes=part.peak_bytes,
                        sample_count=part.sample_count,
                        all_frames=report.all_frames,
                        artifact_dir=report.artifact_dir,
                        artifacts=dict(part.artifacts),
                        notes=list(part.notes),
                        created_at=utcnow(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            if part.hotspots:
                conn.execute(
                    hotspots.insert(),
                    [_hotspot_row(row_id, rank, h) for rank, h in enumerate(part.hotspots, 1)],
                )
            ids.append(row_id)
    return ids


def _hotspot_row(row_id: int, rank: int, h: HotSpot) -> dict[str, Any]:
    return {
        "profile_row": row_id,
        "rank": rank,
        "hotspot_id": h.id,
        "kind": h.kind,
        "function": h.function,
        "file": h.file,
        "line": h.line,
        "self_pct": h.self_pct,
        "total_pct": h.total_pct,
        "self_value": h.self_value,
        "total_value": h.total_value,
        "count": h.count,
        "in_repo": h.in_repo,
    }


def get_profiles(store: Store, profile_id: str) -> list[StoredProfile]:
    """Every stored mode of one profile invocation (empty when unknown)."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(profiles).where(profiles.c.profile_id == profile_id).order_by(profiles.c.id)
        ).fetchall()
        return [_stored(conn, row) for row in rows]


def list_profiles(
    store: Store, *, workload: str | None = None, limit: int = 50
) -> list[StoredProfile]:
    """Newest first."""
    query = sa.select(profiles).order_by(profiles.c.id.desc()).limit(limit)
    if workload is not None:
        query = query.where(profiles.c.workload == workload)
    with store.read() as conn:
        return [_stored(conn, row) for row in conn.execute(query).fetchall()]


def find_hotspot(store: Store, hotspot_id: str) -> list[tuple[StoredProfile, HotSpot]]:
    """Every stored profile that contains the hot spot ``hotspot_id`` (newest first)."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(profiles)
            .join(hotspots, hotspots.c.profile_row == profiles.c.id)
            .where(hotspots.c.hotspot_id == hotspot_id)
            .order_by(profiles.c.id.desc())
        ).fetchall()
        found = []
        for row in rows:
            stored = _stored(conn, row)
            spot = next(h for h in stored.hotspots if h.id == hotspot_id)
            found.append((stored, spot))
        return found


def _stored(conn: sa.Connection, row: Any) -> StoredProfile:
    spots = conn.execute(
        sa.select(hotspots).where(hotspots.c.profile_row == row.id).order_by(hotspots.c.rank)
    ).fetchall()
    return StoredProfile(
        row_id=row.id,
        profile_id=row.profile_id,
        kind=row.kind,
        backend=row.backend,
        workload=row.workload,
        ref=row.ref,
        sha=row.sha,
        environment_id=row.environment_id,
        artifact_dir=row.artifact_dir,
        artifacts=dict(row.artifacts),
        wall_time=row.wall_time,
        peak_bytes=row.peak_bytes,
        created_at=row.created_at,
        hotspots=tuple(
            HotSpot(
                id=h.hotspot_id,
                kind=h.kind,
                function=h.function,
                file=h.file,
                line=h.line,
                self_pct=h.self_pct,
                total_pct=h.total_pct,
                self_value=h.self_value,
                total_value=h.total_value,
                count=h._mapping["count"],
                in_repo=h.in_repo,
                origin=guess_origin(h.function, h.in_repo),
            )
            for h in spots
        ),
    )
