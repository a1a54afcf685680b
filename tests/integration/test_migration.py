"""A store written by schema version 1 opens, migrates to the current version and keeps every run.

``tests/data/store_v1.sqlite`` was written by the foundation's store at schema version 1 (three
runs of 3 samples + 1 failure each, one environment) and is never regenerated.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from perfop.store import engagement as es
from perfop.store import open_store
from perfop.store import schema as s

DATA = Path(__file__).parent.parent / "data" / "store_v1.sqlite"


def _counts(path: Path) -> dict[str, int]:
    con = sqlite3.connect(path)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "samples", "failures", "environments")
        }
    finally:
        con.close()


def test_v1_store_migrates_without_data_loss(tmp_path: Path) -> None:
    db = tmp_path / "perfop.db"
    shutil.copy(DATA, db)
    before = _counts(db)
    con = sqlite3.connect(db)
    assert con.execute("SELECT value FROM perfop_meta").fetchone()[0] == "1"
    assert "engagements" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    con.close()
    assert before == {"runs": 3, "samples": 9, "failures": 3, "environments": 1}

    store = open_store(f"sqlite:///{db}")
    try:
        runs = store.list_runs()
        assert sorted(r.id for r in runs) == [1, 2, 3]
        run = store.get_run(1)
        assert run.workload == "parse"
        assert run.values("wall_time") == [0.01, 0.02, 0.03]
        assert [f.stderr_tail for f in run.failures] == ["boom"]
        with store.read() as conn:
            version = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar()
            tables = set(sa.inspect(conn).get_table_names())
        assert int(version) == s.SCHEMA_VERSION >= 2
        assert {t.name for t in es.TABLES} <= tables
        # the new tables work on the migrated store
        with store.write() as conn:
            from perfop.engagement.records import EngagementSpec

            eid = es.insert_engagement(conn, EngagementSpec(title="after migration"), ["q?"])
        with store.read() as conn:
            eng = es.get_engagement(conn)
        assert eng is not None and eng.id == eid and eng.generated_questions == ("q?",)
    finally:
        store.close()
    assert _counts(db) == before


def test_migration_is_idempotent_on_reopen(tmp_path: Path) -> None:
    db = tmp_path / "perfop.db"
    shutil.copy(DATA, db)
    open_store(f"sqlite:///{db}").close()
    store = open_store(f"sqlite:///{db}")
    try:
        assert len(store.list_runs()) == 3
    finally:
        store.close()
