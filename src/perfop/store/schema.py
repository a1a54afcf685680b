"""The store's tables (SQLAlchemy Core) and its schema version.

Schema history (bump SCHEMA_VERSION and add a step to MIGRATIONS for every change):
  1  environments, runs, samples, failures (foundation)
  2  engagements, hypotheses, designs, approvals, decisions, validations, inventories
     (perfop.store.engagement; step registered there, adds tables only)
  3  runs.contention and comparisons.contention (JSON, NULL for older rows): the machine's
     contention during the measurement (perfop.contention); added with ALTER TABLE

Other areas define their tables in their own ``perfop.store.<area>`` module on this ``metadata``
and are listed in ``perfop.store.TABLE_MODULES``.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SCHEMA_VERSION = 3

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
    sa.Column("workload", sa.String(200), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False, default="run"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("ref", sa.String(255)),
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
    sa.Column("host", sa.String(255)),
    sa.Column("pid", sa.Integer),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
    sa.Column("contention", sa.JSON),
)

samples = sa.Table(
    "samples",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("stdout_digest", sa.String(64)),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("run_id", "idx", name="uq_samples_run_idx"),
)

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
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
