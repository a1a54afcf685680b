"""Issue 20, one result model: a comparison's metrics are ``perfop.records.comparison.MetricResult``
from measurement to store to report. ``tests/data/compare/comparison_2_main_3ac9f6d.json`` is the
``perfop compare --format json`` document (the same document the store keeps) that perfop at main
3ac9f6d wrote for a real comparison (bench 28 ms vs 20 ms, a custom ``items_per_s`` metric, a
metric without a ratio); ``report_metrics_main_3ac9f6d.json`` is what that perfop's report parser
(``report.validations.workload_results``) made of it, and ``comparison_2_main_3ac9f6d.openmetrics``
its ``perfop export --format openmetrics`` text. Never regenerated."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from perfop.model import Verdict
from perfop.records.comparison import MetricResult, load_comparison, metric_from_row, metric_row
from perfop.report.jsonfmt import metric_entry
from perfop.report.validations import workload_results

DATA = Path(__file__).parent.parent / "data" / "compare"
DOC: dict[str, Any] = json.loads((DATA / "comparison_2_main_3ac9f6d.json").read_text())
REPORTED: list[dict[str, Any]] = json.loads(
    (DATA / "report_metrics_main_3ac9f6d.json").read_text()
)["metrics"]
ROWS = [m for w in DOC["workloads"] for m in w["metrics"]]


def test_the_fixture_has_what_the_loader_must_handle() -> None:
    assert DOC["schema"] == "perfop.comparison/2"
    assert {m["verdict"] for m in ROWS} == {"inconclusive", "slower", "unchanged"}
    assert any(m["ratio"] is None for m in ROWS)  # sys_time: no ratio
    assert any(m["better"] == "higher" for m in ROWS)  # the custom metric


@pytest.mark.parametrize("row", ROWS, ids=[m["name"] for m in ROWS])
def test_a_stored_row_loads_into_the_one_type_and_serialises_back_exactly(
    row: dict[str, Any],
) -> None:
    m = metric_from_row(row)
    assert type(m) is MetricResult and isinstance(m.verdict, Verdict)
    assert m.analysis.n == row["pairs"] and m.verdict.value == row["verdict"]
    assert metric_row(m) == row  # every key and value of today's row, in order
    assert list(metric_row(m)) == list(row)


def test_the_report_reads_the_same_numbers_as_before() -> None:
    results = workload_results(load_comparison(DOC, 1), None)
    metrics = [m for w in results for m in w.metrics]
    assert all(type(m) is MetricResult for m in metrics)
    assert [metric_entry(m) for m in metrics] == REPORTED


def test_an_older_or_partial_row_loads_with_unknowns_as_nan() -> None:
    # perfop.comparison/1 rows had no equivalence_ci; hand-written evidence may hold less.
    v1 = {k: v for k, v in ROWS[0].items() if k != "equivalence_ci"}
    m = metric_from_row(v1)
    assert math.isnan(m.analysis.eq_ci_low) and math.isnan(m.analysis.eq_ci_high)
    assert m.ratio == ROWS[0]["ratio"]
    bare = metric_from_row({"name": "wall_time", "ratio": "0.5", "verdict": "no such verdict"})
    assert (bare.unit, bare.better, bare.verdict) == ("", "lower", Verdict.INCONCLUSIVE)
    assert bare.ratio == 0.5 and bare.ci_low is None and bare.analysis.n == 0
    assert math.isnan(bare.base_median) and math.isnan(bare.analysis.log_sd)


def test_the_mcp_schemas_name_the_records_fields() -> None:
    """The MCP ``outputSchema`` of a comparison's metric and of a validation's outcome describe
    the one records' stored form: a field the record drops or the schema invents fails here."""
    from dataclasses import fields

    from perfop.mcp.outputs import MetricComparison, OutcomeDoc
    from perfop.records.outcome import Outcome

    assert set(MetricComparison.model_fields) <= set(ROWS[0])
    for row in ROWS:
        MetricComparison.model_validate(metric_row(metric_from_row(row)))
    named = {f.name for f in fields(Outcome)} - {"qualifier"} | {"headline"}
    assert set(OutcomeDoc.model_fields) == named


def test_the_openmetrics_export_reads_the_stored_metrics_as_before() -> None:
    # comparison_2_main_3ac9f6d.openmetrics: main 3ac9f6d's format_openmetrics of the document
    from perfop.history.exports import Export, format_openmetrics

    expected = (DATA / "comparison_2_main_3ac9f6d.openmetrics").read_text()
    assert format_openmetrics(Export("comparison", 1, (), DOC)) == expected


def test_a_whole_document_loads_once_into_the_records() -> None:
    from perfop.records.comparison import StoredComparison, StoredWorkload

    c = load_comparison(DOC, 1)
    assert type(c) is StoredComparison and c.schema == "perfop.comparison/2"
    assert (c.id, c.seed, c.harness) == (1, DOC["seed"], DOC["harness"])
    for w, row in zip(c.workloads, DOC["workloads"], strict=True):
        assert type(w) is StoredWorkload and w.comparison_id == 1
        assert (w.name, w.verdict, w.pairs, w.decided_on) == (
            row["name"], row["verdict"], row["pairs"], row["decided_on"],
        )  # fmt: skip
        assert w.decision is not None and w.decision.to_dict() == row["decision"]
        assert w.cpu_vs_wall is not None and w.cpu_vs_wall.to_dict() == row["cpu_vs_wall"]
        assert w.contention is not None and w.contention.to_dict() == row["contention"]
        assert [metric_row(m) for m in w.metrics] == row["metrics"]


def test_older_embedded_evidence_keys_load_too() -> None:
    # What validations embedded before the comparison document settled: workload for name,
    # diff for behavior_diff, errors beside failure, a row's own comparison_id, the samples.
    c = load_comparison(
        {
            "workloads": [
                {
                    "workload": "parse",
                    "diff": "-a\n+b",
                    "failure": "candidate exited 1",
                    "errors": ["base timed out"],
                    "comparison_id": 9,
                    "base_values": [0.1, None, "x", 0.2],
                    "candidate_values": [0.3, float("inf")],
                },
                {"comparison_id": None},
                "not a row",
            ]
        },
        4,
    )
    old, bare = c.workloads
    assert (old.name, old.behavior_diff, old.comparison_id) == ("parse", "-a\n+b", 9)
    assert old.errors == ("candidate exited 1", "base timed out")
    assert (old.base_values, old.candidate_values) == ((0.1, 0.2), (0.3,))
    assert (c.schema, c.seed, c.harness) == ("", None, None)
    assert (bare.name, bare.verdict, bare.behavior, bare.harness, bare.gate) == (
        "?", "inconclusive", "unchecked", "base", True,
    )  # fmt: skip
    assert bare.comparison_id is None and bare.metrics == () and bare.decision is None
