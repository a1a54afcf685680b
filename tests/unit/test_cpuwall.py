"""CPU-time ratios beside wall-time ratios: agreement, disagreement and what each means."""

from __future__ import annotations

from dataclasses import replace

from test_compare_render import _analysis, _workload

from perfop.cli.compare import format_machine_lines
from perfop.compare.cpuwall import cpu_vs_wall, cpu_vs_wall_document, format_cpu_wall
from perfop.compare.pairs import MetricResult
from perfop.compare.service import ComparisonResult, RefInfo, comparison_document
from perfop.measure import contention as cn
from perfop.model import Verdict


def _metrics(wall: tuple[float, float, float], cpu: tuple[float, float, float]):
    return (
        MetricResult("wall_time", "s", "lower", 1.0, wall[0], _analysis(*wall, Verdict.FASTER)),
        MetricResult("cpu_time", "s", "lower", 1.0, cpu[0], _analysis(*cpu, Verdict.UNCHANGED)),
    )


def test_waiting_not_computing_when_wall_falls_and_cpu_does_not() -> None:
    doc = cpu_vs_wall_document(_metrics((0.80, 0.75, 0.85), (1.00, 0.98, 1.02)))
    assert doc is not None and doc["disagree"] is True
    assert format_cpu_wall(doc) == (
        "wall ratio 0.800 [0.750, 0.850] vs CPU ratio 1.000 [0.980, 1.020]: wall time fell more "
        "than CPU time: the change is in waiting (I/O, sleep, locks, CPU contention) or "
        "parallelism, not computing"
    )


def test_waiting_more_when_wall_rises_beyond_cpu() -> None:
    found = cpu_vs_wall(_metrics((1.30, 1.20, 1.40), (1.01, 0.99, 1.03)))
    assert found is not None and found.disagree
    assert found.note is not None and "waits more" in found.note


def test_overlapping_intervals_agree() -> None:
    doc = cpu_vs_wall_document(_metrics((0.50, 0.45, 0.56), (0.52, 0.50, 0.55)))
    assert doc is not None and doc["disagree"] is False and doc["note"] is None
    assert str(format_cpu_wall(doc)).endswith(": they agree")


def test_no_cpu_metric_no_line() -> None:
    (wall,) = _metrics((0.8, 0.75, 0.85), (1, 1, 1))[:1]
    assert cpu_vs_wall([wall]) is None and format_cpu_wall(None) is None


def test_compare_lines_and_document_carry_cpu_ratio_and_contention() -> None:
    high = cn.summarise(
        [cn.Interval(0.5, 2, 5.2, 0.61, 0.0, 3, None), cn.Interval(0.5, 2, 5.2, 0.61, 0.0, 3, None)]
    )
    wc = replace(
        _workload(Verdict.FASTER, None),
        metrics=_metrics((0.80, 0.75, 0.85), (1.00, 0.98, 1.02)),
        contention=high,
    )
    lines = format_machine_lines(wc)
    assert lines[0].startswith("wall ratio 0.800 [0.750, 0.850] vs CPU ratio 1.000")
    assert lines[1] == (
        "machine: load 5.2 on 2 CPUs, others used 61% CPU — high contention: absolute times are "
        "inflated; ratios from interleaved pairs remain valid"
    )
    result = ComparisonResult(
        id=1,
        base=RefInfo("main", "a" * 40),
        candidate=RefInfo("HEAD", "b" * 40),
        seed=1,
        threshold=0.02,
        alpha=0.05,
        harness="base",
        workloads=(wc,),
    )
    doc = comparison_document(result)
    assert doc["contention"]["level"] == "high" and cn.is_high(doc["contention"])
    (w,) = doc["workloads"]
    assert w["contention"] == high
    assert w["cpu_vs_wall"]["cpu_ratio"] == 1.0 and w["cpu_vs_wall"]["disagree"] is True


def test_validate_prints_cpu_time_and_machine_lines() -> None:
    from perfop.cli.engagement import _machine_lines

    high = cn.summarise([cn.Interval(0.5, 2, 5.2, 0.61, 0.0, 3, None)])
    evidence = {
        "cpu_vs_wall": {"app": cpu_vs_wall_document(_metrics((0.8, 0.75, 0.85), (1, 0.98, 1.02)))},
        "contention": high,
    }
    lines = _machine_lines(evidence)
    assert lines[0].startswith("cpu time (app): wall ratio 0.800 [0.750, 0.850] vs CPU ratio")
    assert lines[1].startswith("machine: load 5.2 on 2 CPUs, others used 61% CPU — high")
    assert _machine_lines({}) == []  # validations stored before contention was recorded


def test_disagreement_under_high_contention_says_the_machine_may_be_part_of_it() -> None:
    high = cn.summarise([cn.Interval(0.5, 2, 5.2, 0.61, 0.0, 3, None)])
    metrics = _metrics((0.80, 0.75, 0.85), (1.00, 0.98, 1.02))
    doc = cpu_vs_wall_document(metrics, contention=high)
    assert doc is not None and "may be the machine's, not the change's" in doc["note"]
    quiet = cn.summarise([cn.Interval(0.5, 2, 0.5, 0.01, 0.0, 0, None)])
    assert "machine's" not in cpu_vs_wall_document(metrics, contention=quiet)["note"]
