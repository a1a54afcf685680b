"""A store written by schema version 1 opens, migrates to the current version and keeps every run.

``tests/data/store_v1.sqlite`` was written by the foundation's store at schema version 1 (three
runs of 3 samples + 1 failure each, one environment) and is never regenerated.
"""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from perfop.engagement.records import EngagementSpec
from perfop.store import Store, open_store
from perfop.store import engagement as es
from perfop.store import schema as s

DATA = Path(__file__).parent.parent / "data" / "store_v1.sqlite"

# The samples table of schemas 1-3 (one JSON row per sample), as those versions defined it.
V3_SAMPLES = sa.Table(
    "samples",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("idx", sa.Integer, nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("stdout_digest", sa.String(64)),
    sa.Column("created_at", sa.String(40), nullable=False),
)


def _counts(path: Path) -> dict[str, int]:
    """Rows per table; samples from the old one-row-per-sample table or the blocks since 4."""
    con = sqlite3.connect(path)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("runs", "failures", "environments")
        }
        counts["samples"] = con.execute(
            "SELECT count(*) FROM samples"
            if "samples" in tables
            else "SELECT coalesce(sum(n), 0) FROM sample_blocks"
        ).fetchone()[0]
        return counts
    finally:
        con.close()


def _assert_migrated(store: Store) -> None:
    """The version-1 runs are all there, the schema is current, and the new tables work."""
    assert sorted(r.id for r in store.list_runs()) == [1, 2, 3]
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
    assert set(s.metadata.tables) <= tables and {t.name for t in es.TABLES} <= tables
    with store.write() as conn:
        eid = es.insert_engagement(conn, EngagementSpec(title="after migration"), ["q?"])
    with store.read() as conn:
        eng = es.get_engagement(conn)
    assert eng is not None and eng.id == eid and eng.generated_questions == ("q?",)


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
        _assert_migrated(store)
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


def _from_sqlite(column: sa.Column[Any], value: Any) -> Any:
    """A value as SQLite stores it, as the column's Python value (JSON text, 0/1 booleans)."""
    if value is None:
        return None
    if isinstance(column.type, sa.JSON):
        return json.loads(value)
    if isinstance(column.type, sa.Boolean):
        return bool(value)
    return value


@pytest.mark.postgres
def test_v1_store_migrates_on_postgresql(pg_url: str) -> None:
    # The same version-1 contents, written into PostgreSQL with the version-1 tables only.
    foundation = [s.meta, s.environments, s.runs, V3_SAMPLES, s.failures]
    src = sqlite3.connect(DATA)
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            s.metadata.create_all(conn, tables=foundation)
            for table in foundation:
                cur = src.execute(f"SELECT * FROM {table.name}")
                names = [d[0] for d in cur.description]
                rows = [
                    {n: _from_sqlite(table.c[n], v) for n, v in zip(names, r, strict=True)}
                    for r in cur.fetchall()
                ]
                if rows:
                    conn.execute(table.insert(), rows)
            for table in foundation[2:]:  # keep the sequences ahead of the copied ids
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT max(id) FROM {table.name}))"
                    )
                )
            assert set(sa.inspect(conn).get_table_names()) == {t.name for t in foundation}
    finally:
        engine.dispose()
        src.close()

    store = open_store(pg_url)
    try:
        _assert_migrated(store)
        new_run = store.begin_run(workload="parse", argv=["true"], kind="run", cwd="/")
        assert new_run > 3  # ids continue after the migrated rows
    finally:
        store.close()


def _as_schema_2(url: str) -> tuple[int, int]:
    """A store as schema 2 left it: a run and a comparison, no ``contention`` columns."""
    from perfop.store import compare as cstore

    store = open_store(url)
    try:
        run_id = store.begin_run(workload="parse", argv=["true"], kind="run", cwd="/")
        cid = cstore.begin_comparison(
            store,
            base_ref="a",
            base_sha="a" * 40,
            cand_ref="b",
            cand_sha="b" * 40,
            seed=1,
            threshold=0.02,
            alpha=0.05,
            harness="base",
            environment_id=None,
        )
        with store.write() as conn:
            for table in ("runs", "comparisons"):
                conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN contention"))
            conn.execute(s.meta.update().where(s.meta.c.key == "schema_version").values(value="2"))
    finally:
        store.close()
    return run_id, cid


def test_v2_store_gains_contention_columns(any_store_url: str) -> None:
    from perfop.model import RunStatus
    from perfop.store import compare as cstore

    run_id, cid = _as_schema_2(any_store_url)
    store = open_store(any_store_url)
    try:
        with store.read() as conn:
            inspector = sa.inspect(conn)
            for table in ("runs", "comparisons"):
                assert "contention" in {c["name"] for c in inspector.get_columns(table)}
            version = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar()
        assert int(version) == s.SCHEMA_VERSION >= 3
        assert store.get_run(run_id).contention is None  # older rows: NULL, not made up
        summary = {"level": "high", "others_cpu_share": {"median": 0.6, "max": 0.7}}
        store.finish_run(run_id, RunStatus.COMPLETE, contention=summary)
        assert store.get_run(run_id).contention == summary
        cstore.finish_comparison(store, cid, "complete", None, contention=summary)
        row = cstore.get_comparison(store, cid)
        assert row is not None and row["contention"] == summary
    finally:
        store.close()
    open_store(any_store_url).close()  # reopening a migrated store changes nothing


# --- schema 3 -> 4 --------------------------------------------------------------------------------
# ``tests/data/store_v3.sqlite`` was written by perfop at main a87fa1f (schema 3) through its store
# API: 4 recorded runs of "parse" over 3 commits (the second measured twice), 5 samples and 1
# failure each, a metric ``rows`` in odd samples only; a run left running with samples 0 and 2;
# and a comparison (id 1) with a base and a candidate run of 4 samples each. Never regenerated.
V3 = Path(__file__).parent.parent / "data" / "store_v3.sqlite"


def _v3_samples() -> dict[int, list[tuple[int, dict[str, float]]]]:
    """Every sample of the schema-3 file, per run, as the old JSON rows hold it."""
    con = sqlite3.connect(V3)
    try:
        out: dict[int, list[tuple[int, dict[str, float]]]] = {}
        for rid, idx, metrics in con.execute(
            "SELECT run_id, idx, metrics FROM samples ORDER BY run_id, idx"
        ):
            out.setdefault(rid, []).append((idx, json.loads(metrics)))
        return out
    finally:
        con.close()


def _load_v3_into(url: str) -> None:
    """The schema-3 file's tables and rows, as declared there (varchar(200|255) included)."""
    src = sa.create_engine(f"sqlite:///{V3}")
    dst = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    old = sa.MetaData()
    old.reflect(src)
    try:
        with src.connect() as sconn, dst.begin() as dconn:
            old.create_all(dconn)
            for table in old.sorted_tables:
                rows = [dict(r._mapping) for r in sconn.execute(table.select())]
                if rows:
                    dconn.execute(table.insert(), rows)
                if "id" in table.c and rows:
                    dconn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"(SELECT max(id) FROM {table.name}))"
                        )
                    )
            stored = {c["name"]: c["type"] for c in sa.inspect(dconn).get_columns("runs")}
            assert getattr(stored["workload"], "length", None) == 200  # as schema 3 had it
    finally:
        src.dispose()
        dst.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def v3_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The schema-3 store, as a copied SQLite file or loaded into a fresh PostgreSQL database."""
    if request.param == "sqlite":
        db = tmp_path / "perfop.db"
        shutil.copy(V3, db)
        return f"sqlite:///{db}"
    url = str(request.getfixturevalue("pg_url"))
    _load_v3_into(url)
    return url


def test_v3_store_migrates_samples_into_blocks_and_summaries(v3_store_url: str) -> None:
    from perfop.history.service import load_history
    from perfop.report.validations import Reader
    from perfop.stats import summarize
    from perfop.store.samples import read_summaries

    expected = _v3_samples()
    store = open_store(v3_store_url)
    try:
        with store.read() as conn:
            tables = set(sa.inspect(conn).get_table_names())
            version = conn.execute(
                sa.select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar()
            summaries = read_summaries(conn, list(range(1, 8)), "wall_time")
            rows = read_summaries(conn, list(range(1, 8)), "rows")
        assert int(version) == s.SCHEMA_VERSION and "samples" not in tables
        assert sorted(r.id for r in store.list_runs()) == list(range(1, 8))
        for rid, old in expected.items():
            run = store.get_run(rid)
            assert [(x.index, x.metrics) for x in run.samples] == old  # every value, exactly
            assert run.n_samples == len(old)
        assert [f.stderr_tail for f in store.get_run(1).failures] == ["boom"]
        # summaries for finished runs only, equal to perfop.stats over the old values
        assert sorted(summaries) == [1, 2, 3, 4, 6, 7]
        for rid, found in summaries.items():
            values = [m["wall_time"] for _, m in expected[rid]]
            ref = summarize(values)
            assert found.n == len(values)
            assert found.stats["median"] == ref.median and found.stats["p95"] == ref.p95
            assert found.total == pytest.approx(sum(values))
        assert rows[1].n == 2  # the metric only some samples had keeps its own count
        # history: 3 commits, the twice-measured one over both runs' samples
        history = load_history(store, "parse")
        assert [p.n for p in history.points] == [5, 10, 5]
        both = [m["wall_time"] for rid in (2, 3) for _, m in expected[rid]]
        assert history.points[1].value == summarize(both).median
        # the report reads both sides of the comparison, paired by index
        reader = Reader(store)
        reader.prefetch([1])
        base, cand = reader.paired(1, "parse", "wall_time")
        assert base == tuple(m["wall_time"] for _, m in expected[6])
        assert cand == tuple(m["wall_time"] for _, m in expected[7])
    finally:
        store.close()
    open_store(v3_store_url).close()  # reopening a migrated store changes nothing


def test_long_names_and_refs_are_stored_after_migration(v3_store_url: str) -> None:
    """Issue 16 item 10: varchar(200|255) on PostgreSQL lost a measured comparison."""
    from perfop.model import RunStatus
    from perfop.store import compare as cstore

    name, ref = "w" * 10_000, "r" * 304
    store = open_store(v3_store_url)
    try:
        run_id = store.begin_run(workload=name, argv=["true"], ref=ref, kind="run")
        store.finish_run(run_id, RunStatus.COMPLETE)
        cid = cstore.begin_comparison(
            store,
            base_ref=ref,
            base_sha="a" * 40,
            cand_ref=ref,
            cand_sha="b" * 40,
            seed=1,
            threshold=0.02,
            alpha=0.05,
            harness="base",
            environment_id=None,
        )
        got = store.get_run(run_id)
        assert (got.workload, got.ref) == (name, ref)
        row = cstore.get_comparison(store, cid)
        assert row is not None and row["base_ref"] == ref
    finally:
        store.close()


# Today's comparison documents (issue 20: the one result model, loaded by a versioned reader):
# the perfop.comparison/2 document perfop at main 3ac9f6d wrote for a real comparison, and a
# perfop.comparison/1 document as the first comparisons wrote it (no decided_on, decision,
# cpu_vs_wall or contention; a metric row without equivalence_ci).
COMPARE_DATA = Path(__file__).parent.parent / "data" / "compare"
DOC_2: dict[str, Any] = json.loads((COMPARE_DATA / "comparison_2_main_3ac9f6d.json").read_text())
DOC_1: dict[str, Any] = {
    "schema": "perfop.comparison/1",
    "id": 2,
    "base": {"ref": "main", "sha": "1" * 40},
    "candidate": {"ref": "cand", "sha": "2" * 40},
    "seed": 11,
    "threshold": 0.02,
    "alpha": 0.05,
    "harness": "candidate",
    "workloads": [
        {
            "name": "parse",
            "verdict": "faster",
            "pairs": 4,
            "behavior": "same",
            "behavior_diff": None,
            "harness": "candidate",
            "harness_touched": True,
            "gate": False,
            "primary_metric": "wall_time",
            "failure": None,
            "runs": {"base": 6, "candidate": 7},
            "metrics": [
                {
                    k: v
                    for k, v in DOC_2["workloads"][0]["metrics"][0].items()
                    if k != "equivalence_ci"
                }
            ],
        }
    ],
}


def _store_documents_as_schema_3(url: str) -> None:
    """Comparison 1 of the schema-3 store gets DOC_2, and comparison 2 (new) DOC_1, written into
    the old tables before perfop opens (and migrates) the store."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    old = sa.MetaData()
    old.reflect(engine, only=["comparisons"])
    table = old.tables["comparisons"]
    try:
        with engine.begin() as conn:
            row = dict(conn.execute(table.select().where(table.c.id == 1)).one()._mapping)
            conn.execute(table.update().where(table.c.id == 1).values(document=DOC_2))
            conn.execute(table.insert().values({**row, "id": 2, "seed": 11, "document": DOC_1}))
    finally:
        engine.dispose()


def test_stored_comparison_documents_load_into_the_records_after_migration(
    v3_store_url: str,
) -> None:
    from perfop.records.comparison import MetricResult, StoredComparison, load_comparison
    from perfop.report.jsonfmt import metric_entry
    from perfop.report.validations import Reader, workload_results

    reported = json.loads((COMPARE_DATA / "report_metrics_main_3ac9f6d.json").read_text())
    _store_documents_as_schema_3(v3_store_url)
    store = open_store(v3_store_url)
    try:
        reader = Reader(store)
        reader.prefetch([1, 2])
        assert set(reader.docs) == {1, 2}
        assert all(type(c) is StoredComparison for c in reader.docs.values())
        assert reader.docs[1] == load_comparison(DOC_2, 1)
        assert reader.docs[2] == load_comparison(DOC_1, 2)
        # /2: what the report made of the document at main 3ac9f6d, number for number
        results = workload_results(reader.docs[1], reader)
        metrics = [m for r in results for m in r.metrics]
        assert all(type(m) is MetricResult for m in metrics)
        assert [metric_entry(m) for m in metrics] == reported["metrics"]
        # /1: every workload field, the samples from the migrated sample blocks
        (w,) = workload_results(reader.docs[2], reader)
        assert (w.comparison_id, w.workload, w.verdict, w.pairs, w.harness) == (
            2, "parse", "faster", 4, "candidate",
        )  # fmt: skip
        assert (w.harness_touched, w.gate, w.primary_metric, w.decision) == (
            True, False, "wall_time", None,
        )  # fmt: skip
        assert math.isnan(w.metrics[0].analysis.eq_ci_low)
        assert (reader.docs[2].seed, reader.docs[2].harness) == (11, "candidate")
        assert (w.base_values, w.candidate_values) == ((), ())  # no runs linked to comparison 2
    finally:
        store.close()
