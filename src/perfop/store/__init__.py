"""The evidence store: one SQLAlchemy Core database (SQLite by default, PostgreSQL by URL).

``open_store(url)`` creates or upgrades the schema and returns a ``Store``; the table modules
(``TABLE_MODULES``) are imported by what uses their tables, and by ``open_store`` only when it
creates or migrates a schema. Every write is one short
transaction, so an interrupted command never leaves half a record behind.
"""

from __future__ import annotations

from types import ModuleType

from perfop.registry import Registry
from perfop.store.core import RunRecord, Store, open_store

# Modules that define further tables on perfop.store.schema.metadata.
TABLE_MODULES: Registry[ModuleType] = Registry(
    "store tables",
    {
        "engagement": "perfop.store.engagement",
        "compare": "perfop.store.compare",
        "profiles": "perfop.store.profiles",
        "history": "perfop.store.history",
        "agent": "perfop.store.agent",
        "reports": "perfop.store.reports",
    },
)


# Every table of the schema (perfop.store.schema's and those of TABLE_MODULES): an up-to-date
# store is recognised by this list, so opening one imports no table module (~30-40 ms of CPU
# on the 2-core VM); they are imported to create or migrate a schema.
# tests/integration/test_store.py keeps it equal to the tables the modules define.
TABLES: tuple[str, ...] = (
    "agent_messages", "agent_sessions", "approvals", "calibrations", "commits",
    "comparison_metrics", "comparison_workloads", "comparisons", "decisions", "designs",
    "engagements", "environments", "failures", "hotspots", "hypotheses", "inventories",
    "perfop_meta", "profiles", "reports", "run_metrics", "runs", "sample_blocks", "validations",
)  # fmt: skip


def load_table_modules() -> None:
    TABLE_MODULES.load_all()


__all__ = ["TABLES", "TABLE_MODULES", "RunRecord", "Store", "load_table_modules", "open_store"]
