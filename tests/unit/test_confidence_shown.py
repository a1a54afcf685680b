"""Issue 22 point 3: headlines carry their confidence intervals and an inconclusive result its
minimum detectable effect (report sentences, validation reasons)."""

from __future__ import annotations

from perfop.engagement.outcome import WorkloadEvidence, decide
from perfop.records.comparison import metric_from_row
from perfop.report.content import change_phrase, workload_sentence
from perfop.report.model import WorkloadResult


def _wl(verdict: str, ratio: float, lo: float, hi: float, mde: float | None) -> WorkloadResult:
    m = metric_from_row(
        {
            "name": "wall_time",
            "unit": "s",
            "better": "lower",
            "base_median": 1.0,
            "candidate_median": ratio,
            "ratio": ratio,
            "ci_low": lo,
            "ci_high": hi,
            "p_value": 0.01,
            "verdict": verdict,
            "mde": mde,
        }
    )
    return WorkloadResult(
        comparison_id=1,
        workload="parse",
        pairs=12,
        verdict=verdict,
        behavior="same",
        behavior_diff=None,
        harness="base",
        harness_touched=False,
        primary_metric="wall_time",
        unit="s",
        better="lower",
        metrics=(m,),
    )


def test_a_speed_up_headline_carries_its_interval() -> None:
    assert change_phrase(0.358, "s", "lower", 0.168, 0.764) == "2.79x faster (CI 1.31-5.95x)"
    assert change_phrase(1.2, "s", "lower", 1.1, 1.3) == "1.20x slower (CI 1.10-1.30x)"
    assert change_phrase(0.5, "s", "lower") == "2.00x faster"
    # an interval open at one end (few pairs) still says what is known
    assert change_phrase(0.358, "s", "lower", 0.0, 0.764) == "2.79x faster (CI >= 1.31x)"
    assert change_phrase(0.358, "s", "lower", float("nan"), float("inf")) == "2.79x faster"
    assert "(CI 1.31-5.95x)" in workload_sentence(_wl("faster", 0.358, 0.168, 0.764, 0.05), ())


def test_inconclusive_sentence_and_reasons_give_the_minimum_detectable_effect() -> None:
    text = workload_sentence(_wl("inconclusive", 0.97, 0.9, 1.04, 0.083), ())
    assert "minimum detectable effect 8.3%" in text
    out = decide(
        expected_ratio=0.95,
        workloads=[
            WorkloadEvidence("parse", "wall_time", "inconclusive", 0.97, 0.9, 1.04, mde=0.083)
        ],
        tests=None,
        slos=[],
    )
    assert out.status.value == "inconclusive"
    assert "8.3%" in out.reasons[0]
    assert any("minimum detectable effect 8.3%" in r for r in out.reasons[1:])
