"""The ``reports`` table: every generated report, and the verify item that reads it.

One row per ``perfop report`` (engagement, format, where it was written, a digest of its text and
the newest validation it covers). The table only adds to the schema, so ``create_all`` brings an
older store up to date. Importing this module (``open_store`` does, through ``TABLE_MODULES``)
also registers the ``perfop verify`` item "report generated after the last validation".
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from perfop import __version__
from perfop.clock import utcnow
from perfop.store import schema as s
from perfop.store.core import Store

reports = sa.Table(
    "reports",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, sa.ForeignKey("engagements.id"), nullable=False),
    sa.Column("format", sa.String(8), nullable=False),
    sa.Column("path", sa.Text),  # None when written to stdout
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("validations", sa.Integer, nullable=False),
    sa.Column("last_validation_at", sa.String(40)),
    sa.Column("perfop_version", sa.String(32), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False, index=True),
)


@dataclass(frozen=True)
class ReportRecord:
    id: int
    engagement_id: int
    format: str
    path: str | None
    digest: str
    validations: int
    last_validation_at: str | None
    perfop_version: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_report(
    store: Store,
    *,
    engagement_id: int,
    fmt: str,
    path: str | None,
    text: str,
    validations: int,
    last_validation_at: str | None,
) -> ReportRecord:
    """Record that a report was generated (one transaction); returns the stored row."""
    values = {
        "engagement_id": engagement_id,
        "format": fmt,
        "path": path,
        "digest": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "validations": validations,
        "last_validation_at": last_validation_at,
        "perfop_version": __version__,
        "created_at": utcnow(),
    }
    with store.write() as conn:
        rid = conn.execute(reports.insert().values(**values)).inserted_primary_key
        assert rid is not None
    return ReportRecord(id=int(rid[0]), **values)  # type: ignore[arg-type]


def list_reports(store: Store, engagement_id: int) -> list[ReportRecord]:
    """Reports of one engagement, oldest first."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(reports)
            .where(reports.c.engagement_id == engagement_id)
            .order_by(reports.c.id)
        ).mappings()
        return [ReportRecord(**dict(r)) for r in rows]
