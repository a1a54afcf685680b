"""The store's tables (SQLAlchemy Core) and its schema version.

Schema history (bump SCHEMA_VERSION and add a step to MIGRATIONS for every change):
  1  environments, runs, samples, failures (foundation)
  2  engagements, hypotheses, designs, approvals, decisions, validations, inventories
     (perfop.store.engagement; step registered there, adds tables only)
  3  runs.contention and comparisons.contention (JSON, NULL for older rows): the machine's
     contention during the measurement (perfop.measure.contention); added with ALTER TABLE
  4  samples (one JSON row per sample) replaced by sample_blocks (float64 columns per flush,
     perfop.store.samples) and run_metrics (per-run summaries written when a run finishes),
     filled from the old rows; names, refs, hosts and branches become unbounded text (they
     were varchar(200|255) on PostgreSQL, and an overflow lost a measured comparison)

Other areas define their tables in their own ``perfop.store.<area>`` module on this ``metadata``
and are listed in ``perfop.store.TABLE_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SCHEMA_VERSION = 4

metadata = sa.MetaData()

meta = sa.Table(
    "perfop_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

environments = sa.Table(
    "environments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False, index=True),
    sa.Column("fingerprint", sa.String(32), nullable=False, index=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workload", sa.Text, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False, default="run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ref", sa.Text),
    sa.Column("sha", sa.String(64), index=True),
    sa.Column("dirty", sa.Boolean),
    sa.Column("argv", sa.JSON, nullable=False),
    sa.Column("cwd", sa.Text),
    sa.Column("env", sa.JSON, nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("metric_specs", sa.JSON),
    sa.Column("environment_id", sa.Integer, sa.ForeignKey("environments.id")),
    sa.Column("comparison_id", sa.Integer, index=True),
    sa.Column("side", sa.String(16)),
    sa.Column("host", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("contention", sa.JSON),
)


def _run_id(*, index: bool = False) -> sa.Column[int]:
    """A row's run: removed with it (``ON DELETE CASCADE``)."""
    return sa.Column(
        "run_id",
        sa.Integer,
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
        index=index,
    )


# Samples are stored in blocks, one row per flush of a run's writer: the metric values as
# little-endian float64 columns (perfop.store.samples encodes them). ``run_metrics`` holds each
# finished run's summary per metric, so history and listings never decode samples.
sample_blocks = sa.Table(
    "sample_blocks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _run_id(index=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Column("first_idx", sa.Integer, nullable=False),
    sa.Column("indices", sa.LargeBinary),  # NULL: first_idx, first_idx + 1, ... (the usual case)
    sa.Column("metrics", sa.Text, nullable=False),  # metric names in the order of ``data``
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("digests", sa.Text, nullable=False),  # distinct stdout digests of the block
    sa.Column("digest_codes", sa.LargeBinary),  # per sample, into ``digests``; NULL if <= 1
    sa.Column("created_at", sa.String(40), nullable=False),
)

run_metrics = sa.Table(
    "run_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _run_id(index=True),
    # Not indexed: a benchmark's name has no length limit, and PostgreSQL's b-tree refuses
    # entries over ~2.7 kB (rows are found by run_id).
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("n", sa.Integer, nullable=False),
    # Floats are NULL for NaN (SQLite stores NaN as NULL); sum and sum_sq combine runs.
    sa.Column("sum", sa.Float),
    sa.Column("sum_sq", sa.Float),
    sa.Column("mean", sa.Float),
    sa.Column("stdev", sa.Float),
    sa.Column("median", sa.Float),
    sa.Column("p90", sa.Float),
    sa.Column("p95", sa.Float),
    sa.Column("p99", sa.Float),
    sa.Column("min", sa.Float),
    sa.Column("max", sa.Float),
)

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    _run_id(),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("signal", sa.Integer),
    sa.Column("timed_out", sa.Boolean, nullable=False),
    sa.Column("wall_time", sa.Float, nullable=False),
    sa.Column("stderr_tail", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

# target version -> step that upgrades a store at (target - 1). Each step runs in the same
# transaction as the version bump, so a failed migration leaves the store as it was.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

# Columns added to existing tables (version -> (table, column)); ``add_columns`` adds the ones a
# store lacks, so a table created after the version (``create_all``) needs nothing.
ADDED_COLUMNS: dict[int, tuple[tuple[str, str], ...]] = {
    3: (("runs", "contention"), ("comparisons", "contention")),
}


def add_columns(conn: Connection, version: int) -> None:
    """Add the columns of ``version`` that exist in ``metadata`` but not yet in the store."""
    inspector = sa.inspect(conn)
    tables = set(inspector.get_table_names())
    for table_name, column_name in ADDED_COLUMNS.get(version, ()):
        if table_name not in tables:
            continue  # created whole (with the column) by create_all after the steps
        if column_name in {c["name"] for c in inspector.get_columns(table_name)}:
            continue
        column = metadata.tables[table_name].c[column_name]
        ddl = column.type.compile(dialect=conn.dialect)
        conn.execute(sa.text(f"ALTER TABLE {table_name} ADD COLUMN {column_name} {ddl}"))


def migrate_2_to_3(conn: Connection) -> None:
    """Schema 2 -> 3: ``contention`` on runs and comparisons; existing rows keep NULL."""
    add_columns(conn, 3)


MIGRATIONS[3] = migrate_2_to_3


def migrate_3_to_4(conn: Connection) -> None:
    """Schema 3 -> 4: samples into blocks plus summaries; bounded text columns unbounded."""
    import json
    from types import SimpleNamespace

    from perfop.store.samples import encode_block, summary_rows

    metadata.create_all(conn, tables=[sample_blocks, run_metrics])
    tables = set(sa.inspect(conn).get_table_names())
    if "samples" in tables:
        finished = {
            int(rid)
            for (rid,) in conn.execute(sa.select(runs.c.id).where(runs.c.status != "running"))
        }
        run_ids = [int(r) for (r,) in conn.execute(sa.text("SELECT DISTINCT run_id FROM samples"))]
        for start in range(0, len(run_ids), 200):
            chunk = run_ids[start : start + 200]
            grouped: dict[int, list[tuple[int, dict[str, float], str | None]]] = {}
            query = sa.text(
                "SELECT run_id, idx, metrics, stdout_digest, created_at FROM samples "
                "WHERE run_id IN :ids ORDER BY run_id, idx"
            ).bindparams(sa.bindparam("ids", expanding=True))
            created: dict[int, str] = {}
            for rid, idx, metrics, digest, at in conn.execute(query, {"ids": chunk}):
                value = json.loads(metrics) if isinstance(metrics, str | bytes) else metrics
                grouped.setdefault(int(rid), []).append((int(idx), dict(value), digest))
                created.setdefault(int(rid), str(at))
            for rid, items in grouped.items():
                block = encode_block(items)
                conn.execute(
                    sample_blocks.insert().values(run_id=rid, created_at=created[rid], **block)
                )
                if rid in finished:
                    rows = summary_rows(rid, [SimpleNamespace(**block)])
                    if rows:
                        conn.execute(run_metrics.insert(), rows)
        conn.execute(sa.text("DROP TABLE samples"))
    unbound_text(conn)


def unbound_text(conn: Connection) -> None:
    """On PostgreSQL, turn the varchar columns that ``metadata`` now declares as text into text."""
    if conn.dialect.name != "postgresql":
        return  # SQLite never enforced a varchar length
    inspector = sa.inspect(conn)
    present = set(inspector.get_table_names())
    for table in metadata.tables.values():
        if table.name not in present:
            continue
        stored = {c["name"]: c["type"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            old = stored.get(column.name)
            if (
                isinstance(column.type, sa.Text)
                and isinstance(old, sa.String)
                and old.length is not None
            ):
                conn.execute(
                    sa.text(f'ALTER TABLE {table.name} ALTER COLUMN "{column.name}" TYPE TEXT')
                )


MIGRATIONS[4] = migrate_3_to_4
