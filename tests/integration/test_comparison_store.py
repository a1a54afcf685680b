"""Issue 20, one result model: a comparison document as perfop at main 3ac9f6d stored it
(``tests/data/compare/comparison_2_main_3ac9f6d.json``) loads back from the store, SQLite and
PostgreSQL alike, into ``perfop.records.comparison.MetricResult``, and serialises back to the very
rows it was stored as. The stored format did not change, so no schema step is needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from perfop.records.comparison import MetricResult, load_comparison, metric_row
from perfop.report.validations import Reader, workload_results
from perfop.store import compare as cstore
from perfop.store import open_store

DOC: dict[str, Any] = json.loads(
    (
        Path(__file__).parent.parent / "data" / "compare" / "comparison_2_main_3ac9f6d.json"
    ).read_text()
)


def test_a_stored_comparison_loads_into_the_one_result_model(any_store_url: str) -> None:
    store = open_store(any_store_url)
    try:
        cid = cstore.begin_comparison(
            store,
            base_ref=DOC["base"]["ref"],
            base_sha=DOC["base"]["sha"],
            cand_ref=DOC["candidate"]["ref"],
            cand_sha=DOC["candidate"]["sha"],
            seed=DOC["seed"],
            threshold=DOC["threshold"],
            alpha=DOC["alpha"],
            harness=DOC["harness"],
            environment_id=None,
        )
        for w in DOC["workloads"]:
            row = {"workload": w["name"], **{k: w[k] for k in ("verdict", "pairs", "behavior")}}
            row.update(harness=w["harness"], harness_touched=False, elapsed=w["elapsed"])
            cstore.add_workload_result(store, cid, row, w["metrics"])
        cstore.finish_comparison(store, cid, "complete", DOC)

        reader = Reader(store)
        reader.prefetch([cid])
        assert reader.docs[cid] == load_comparison(DOC, cid)
        results = workload_results(reader.docs[cid], reader)
        loaded = [m for r in results for m in r.metrics]
        assert loaded and all(type(m) is MetricResult for m in loaded)
        assert [metric_row(m) for m in loaded] == [
            m for w in DOC["workloads"] for m in w["metrics"]
        ]
        # the per-metric columns hold the same numbers as the document
        columns = cstore.comparison_rows(store, cid)[0]["metrics"]
        assert [(c["metric"], c["ratio"], c["verdict"]) for c in columns] == [
            (m.name, m.ratio, m.verdict.value) for m in loaded
        ]
    finally:
        store.close()
