"""The evidence store: one SQLAlchemy Core database (SQLite by default, PostgreSQL by URL).

``open_store(url)`` creates or upgrades the schema and returns a ``Store``. Every write is one short
transaction, so an interrupted command never leaves half a record behind.
"""

from __future__ import annotations

import importlib

from perfop.store.core import RunRecord, Store, open_store

# Modules that define further tables on perfop.store.schema.metadata.
TABLE_MODULES: tuple[str, ...] = (
    "engagement",
    "compare",
    "profiles",
    "history",
    "agent",
    "reports",
)


def load_table_modules() -> None:
    for name in TABLE_MODULES:
        importlib.import_module(f"perfop.store.{name}")


__all__ = ["TABLE_MODULES", "RunRecord", "Store", "load_table_modules", "open_store"]
