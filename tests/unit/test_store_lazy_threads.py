"""A store opened lazily (not created yet) reads the same, empty schema from every thread.

The MCP server runs tools in worker threads; before the first write its store is an in-memory
twin, and SQLAlchemy gives each thread its own connection to it: with a plain ``sqlite://`` each
of those was a database of its own, without tables ("no such table: inventories").
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from perfop.store import open_store
from perfop.store import schema as s


def _count_every_table(store: object) -> int:
    with store.read() as conn:  # type: ignore[attr-defined]
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for table in s.metadata.sorted_tables
        )


def test_a_lazy_store_reads_its_tables_from_any_thread(tmp_path: Path) -> None:
    tmp_path.joinpath("repo").mkdir()
    tmp_path = tmp_path / "repo"
    store = open_store(f"sqlite:///{tmp_path / '.perfop' / 'perfop.db'}", lazy=True)
    try:
        assert not store.created
        assert _count_every_table(store) == 0
        results: list[object] = []

        def read() -> None:
            try:
                results.append(_count_every_table(store))
            except Exception as exc:  # the assertion below names it
                results.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert results == [0, 0, 0, 0]
        assert not (tmp_path / ".perfop" / "perfop.db").exists()
    finally:
        store.close()


def test_two_lazy_stores_do_not_share_their_twin(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = open_store(f"sqlite:///{tmp_path / 'a' / '.perfop' / 'perfop.db'}", lazy=True)
    b = open_store(f"sqlite:///{tmp_path / 'b' / '.perfop' / 'perfop.db'}", lazy=True)
    try:
        with a.engine.begin() as conn:  # the twin itself, not a write that would create the file
            conn.execute(s.meta.insert().values(key="probe", value="a"))
        with b.read() as conn:
            assert conn.execute(sa.select(s.meta.c.key)).all() == []
    finally:
        a.close()
        b.close()
