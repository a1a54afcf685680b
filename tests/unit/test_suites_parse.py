"""Reading suite runners' result files: pytest-benchmark JSON and JUnit XML, asv results and
its commented config; the value one run gives a benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfop.measure.suites import (
    BenchmarkResult,
    SuiteRun,
    SuiteSampler,
    run_value,
    short_window_notice,
    short_windows,
)
from perfop.measure.suites.asv import load_conf, parse_results
from perfop.measure.suites.pytest_benchmark import benchmarks_from_json, failures_from_junit
from perfop.model import ProcessResult


def test_pytest_benchmark_rounds_and_names() -> None:
    doc = {
        "benchmarks": [
            {
                "name": "test_a",
                "fullname": "a.py::test_a",
                "stats": {"median": 2.0, "data": [3.0, 1.0, 2.0]},
            },
            {"name": "test_b", "fullname": "x/b.py::test_b", "stats": {"median": 5.0}},
            {"name": "test_b", "fullname": "y/b.py::test_b", "stats": {"median": 6.0}},
        ]
    }
    got = benchmarks_from_json(doc)
    assert [b.name for b in got] == ["test_a", "x/b.py::test_b", "y/b.py::test_b"]
    assert got[0].rounds == (3.0, 1.0, 2.0) and got[0].value == 2.0
    assert got[1].rounds == (5.0,)
    assert got[0].span == 6.0 and got[1].span is None  # no rounds saved: window unknown


def test_short_windows_are_named_by_the_median_over_runs() -> None:
    doc = {
        "benchmarks": [
            {"name": "t", "fullname": "t", "stats": {"iterations": 4, "data": [0.001] * 5}}
        ]
    }
    assert benchmarks_from_json(doc)[0].span == pytest.approx(0.02)  # 5 rounds x 4 calls x 1 ms
    spans = {"a": [0.02, 0.3, 0.021], "b": [0.2, 0.01, 0.25], "c": [0.004], "d": []}
    # 0.1 s by default: at 22 ms a run the per-run minimum was 25x noisier than at 190 ms.
    assert short_windows(spans) == [("c", 0.004), ("a", 0.021)]
    assert short_windows({"b": spans["b"]}) == []
    line = short_window_notice("bench", "pytest-benchmark", short_windows(spans))
    assert line.startswith("bench: the rounds of c and 1 more cover only ~4 ms per suite run")
    assert "--benchmark-max-time=0.1" in line and "\n" not in line


def test_junit_failures(tmp_path: Path) -> None:
    xml = tmp_path / "j.xml"
    xml.write_text(
        '<testsuites><testsuite><testcase name="test_ok"/><testcase name="test_bad">'
        '<failure message="ZeroDivisionError: division by zero&#10;more">tb</failure>'
        "</testcase></testsuite></testsuites>"
    )
    assert failures_from_junit(xml) == {"test_bad": "ZeroDivisionError: division by zero"}
    assert failures_from_junit(tmp_path / "none.xml") == {}


def test_run_value_of_rounds() -> None:
    rounds = (3.0, 1.0, 2.0, 10.0)
    assert run_value(rounds, "min") == 1.0
    assert run_value(rounds, "median") == 2.5
    assert run_value(rounds, "mean") == 4.0


def test_sampler_puts_each_benchmark_in_the_sample_with_its_run_value() -> None:
    result = ProcessResult(("x",), 1, None, False, 1.0, 0.5, 0.1, 1, metrics={"wall_time": 1.0})
    run = SuiteRun(
        (
            BenchmarkResult("test_a", 2.0, (3.0, 1.0, 2.0)),
            BenchmarkResult("wall_time", 4.0, (4.0,)),
        ),
        {"test_c": "boom"},
    )
    for how, want in (("min", 1.0), ("median", 2.0)):
        sampler = SuiteSampler("pytest-benchmark", how)
        got = sampler._with_benchmarks(result, run)
        assert got.ok  # some benchmarks failed (pytest exit 1): still a sample
        assert got.metrics["test_a"] == want
        assert got.metrics["bench:wall_time"] == 4.0 and got.metrics["wall_time"] == 1.0
        assert got.metric_specs["test_a"].unit == "s"


def test_asv_results_with_params_and_failures() -> None:
    doc = {
        "result_columns": ["result", "params", "version", "samples"],
        "results": {
            "b.time_x": [[0.5], [], "v", [[0.4, 0.6]]],
            "b.P.time_p": [[1.0, None], [["10", "100"]], "v", [[1.0], None]],
        },
    }
    meta = {"b.time_x": {"unit": "seconds"}, "b.P.time_p": {"unit": "seconds"}}
    run = parse_results(doc, meta)
    by = {b.name: b for b in run.benchmarks}
    assert by["b.time_x"].rounds == (0.4, 0.6) and by["b.time_x"].unit == "s"
    assert by["b.P.time_p(10)"].value == 1.0
    assert run.failed == {"b.P.time_p(100)": "failed or skipped in asv"}


def test_asv_conf_with_comments_and_trailing_commas(tmp_path: Path) -> None:
    path = tmp_path / "asv.conf.json"
    path.write_text(
        '{\n  // the project\n  "project": "a // not a comment",\n  /* block */ "version": 1,\n'
        '  "matrix": {"x": [1, 2,],},\n}\n'
    )
    assert load_conf(path) == {
        "project": "a // not a comment",
        "version": 1,
        "matrix": {"x": [1, 2]},
    }
    path.write_text("[1]")
    with pytest.raises(ValueError):
        load_conf(path)
    json.loads("{}")
