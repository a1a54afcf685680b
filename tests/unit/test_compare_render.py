"""Pure checks of the comparison document, summary lines and exit codes (no processes)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest

from perfop.cli.compare import format_summary_line
from perfop.compare.budget import BudgetSettings, Plan
from perfop.compare.pairs import MetricResult
from perfop.compare.service import (
    COMPARISON_SCHEMA,
    ComparisonResult,
    RefInfo,
    WorkloadComparison,
    comparison_document,
    exit_code,
)
from perfop.model import Verdict
from perfop.stats import MetricComparison


def _analysis(ratio: float, lo: float, hi: float, verdict: Verdict, **kw: Any) -> MetricComparison:
    base = dict(
        n=23,
        ratio=ratio,
        ci_low=lo,
        ci_high=hi,
        p_value=1e-6,
        nominal_level=0.004,
        gm_ratio=ratio,
        gm_ci_low=lo,
        gm_ci_high=hi,
        hl_ratio=ratio,
        hl_ci_low=lo,
        hl_ci_high=hi,
        wilcoxon_p=1e-5,
        log_sd=0.03,
        mde=0.031,
        verdict=verdict,
    )
    base.update(kw)
    return MetricComparison(**base)  # type: ignore[arg-type]


def _workload(
    verdict: Verdict | None, analysis: MetricComparison | None, **kw: Any
) -> WorkloadComparison:
    metrics = ()
    if analysis is not None:
        metrics = (MetricResult("wall_time", "s", "lower", 0.05, 0.05 * analysis.ratio, analysis),)
    wc = WorkloadComparison(
        name="parse",
        verdict=verdict,
        pairs=23,
        behavior="same",
        harness="base",
        harness_touched=False,
        touched_files=(),
        pinned_files=("bench.py",),
        gate=True,
        primary_metric="wall_time",
        metrics=metrics,
        elapsed=4.2,
        stop_reason="decided",
        base_run_id=1,
        cand_run_id=2,
    )
    return replace(wc, **kw)


def _plan(*, pair_cost: float, spent: float, reserve: float) -> Plan:
    settings = BudgetSettings(
        max_time=10.0,
        time_explicit=True,
        ceiling=900.0,
        min_pairs=5,
        max_pairs=None,
        verdict_pairs=5,
    )
    return Plan(
        pair_cost=pair_cost,
        spent=spent,
        reserve=reserve,
        needed=None,
        max_time=10.0,
        effective=10.0,
        extended=False,
        reachable=True,
        affordable=30,
        settings=settings,
    )


FASTER = _analysis(1 / 1.84, 1 / 1.90, 1 / 1.79, Verdict.FASTER)


@pytest.mark.parametrize(
    ("wc", "line"),
    [
        (
            _workload(Verdict.FASTER, FASTER),
            "parse: 1.84x faster (CI 1.79x-1.90x, 23 pairs, behaviour unchanged)",
        ),
        (
            _workload(Verdict.SLOWER, _analysis(1.3, 1.25, 1.35, Verdict.SLOWER)),
            "parse: 1.30x slower (CI 1.25x-1.35x, 23 pairs, behaviour unchanged)",
        ),
        (
            _workload(Verdict.UNCHANGED, _analysis(1.003, 0.991, 1.012, Verdict.UNCHANGED)),
            "parse: unchanged (ratio 1.003, equivalence CI 0.991-1.012 within +/-2.0%, 23 pairs, "
            "behaviour unchanged)",
        ),
        (
            _workload(
                Verdict.INCONCLUSIVE, _analysis(1.01, 0.97, 1.05, Verdict.INCONCLUSIVE, mde=0.062)
            ),
            "parse: inconclusive (ratio 1.010, CI 0.970-1.050, 23 pairs, behaviour unchanged; "
            "detectable change at this noise: 6.2%); unchanged within +/-2.0% would take ~134 "
            "pairs at this noise if nothing changed",
        ),
        (
            _workload(
                Verdict.INCONCLUSIVE,
                _analysis(1.06, 0.99, 1.13, Verdict.INCONCLUSIVE, mde=0.11, log_sd=0.12),
                budget=_plan(pair_cost=0.26, spent=1.5, reserve=0.3),
            ),
            "parse: inconclusive (ratio 1.060, CI 0.990-1.130, 23 pairs, behaviour unchanged; "
            "detectable change at this noise: 11.0%); a verdict on a change this size would take "
            "~52 pairs (~16 s: --max-time 16)",
        ),
        (
            _workload(None, None, failure="candidate side failed: exited with code 1: boom"),
            "parse: FAILED, no verdict (candidate side failed: exited with code 1: boom)",
        ),
        (
            _workload(Verdict.FASTER, FASTER, behavior="changed"),
            "parse: BEHAVIOUR CHANGED, not a valid speed comparison: 1.84x faster "
            "(CI 1.79x-1.90x, 23 pairs, BEHAVIOUR CHANGED)",
        ),
        (
            _workload(Verdict.FASTER, FASTER, harness_touched=True, touched_files=("bench.py",)),
            "parse: 1.84x faster (CI 1.79x-1.90x, 23 pairs, behaviour unchanged) "
            "[candidate changes workload files bench.py: harness pinned to base]",
        ),
    ],
)
def test_summary_lines(wc: WorkloadComparison, line: str) -> None:
    assert format_summary_line(wc, 0.02) == line


def _result(*workloads: WorkloadComparison) -> ComparisonResult:
    return ComparisonResult(
        id=7,
        base=RefInfo("main", "a" * 40),
        candidate=RefInfo("WORKTREE", "b" * 40),
        seed=42,
        threshold=0.02,
        alpha=0.05,
        harness="base",
        workloads=workloads,
    )


def test_comparison_document_fields() -> None:
    nan_metric = _analysis(math.nan, math.nan, math.nan, Verdict.INCONCLUSIVE, p_value=math.nan)
    doc = comparison_document(
        _result(
            _workload(Verdict.FASTER, FASTER),
            _workload(Verdict.INCONCLUSIVE, nan_metric, name="tiny"),
        )
    )
    assert doc["schema"] == COMPARISON_SCHEMA == "perfop.comparison/2"
    assert doc["base"] == {"ref": "main", "sha": "a" * 40}
    assert doc["candidate"] == {"ref": "WORKTREE", "sha": "b" * 40}
    assert doc["seed"] == 42
    w = doc["workloads"][0]
    for key, value in {
        "name": "parse",
        "pairs": 23,
        "behavior": "same",
        "harness": "base",
        "harness_touched": False,
        "verdict": "faster",
    }.items():
        assert w[key] == value
    m = w["metrics"][0]
    assert set(m) >= {
        "name",
        "unit",
        "better",
        "base_median",
        "candidate_median",
        "ratio",
        "ci_low",
        "ci_high",
        "p_value",
        "verdict",
    }
    assert m["verdict"] == "faster" and m["ratio"] == pytest.approx(1 / 1.84)
    # NaN never reaches JSON: it becomes null.
    tiny = doc["workloads"][1]["metrics"][0]
    assert tiny["ratio"] is None and tiny["p_value"] is None


@pytest.mark.parametrize(
    ("wc", "flags", "code"),
    [
        (_workload(Verdict.SLOWER, FASTER), {}, 0),
        (_workload(Verdict.SLOWER, FASTER), {"fail_on_regression": True}, 1),
        (_workload(Verdict.SLOWER, FASTER, gate=False), {"fail_on_regression": True}, 0),
        (_workload(Verdict.FASTER, FASTER, behavior="changed"), {"fail_on_regression": True}, 1),
        (_workload(Verdict.INCONCLUSIVE, FASTER), {"fail_on_regression": True}, 0),
        (_workload(Verdict.INCONCLUSIVE, FASTER), {"fail_on_inconclusive": True}, 3),
        (_workload(None, None, failure="base side failed"), {}, 1),
    ],
)
def test_exit_codes(wc: WorkloadComparison, flags: dict[str, bool], code: int) -> None:
    kw = {"fail_on_regression": False, "fail_on_inconclusive": False, **flags}
    assert exit_code(_result(wc), **kw) == code


def test_the_document_says_what_an_inconclusive_workload_would_take() -> None:
    noisy = _analysis(1.06, 0.99, 1.13, Verdict.INCONCLUSIVE, log_sd=0.12)
    plan = _plan(pair_cost=0.26, spent=1.5, reserve=0.3)
    doc = comparison_document(
        _result(
            _workload(Verdict.INCONCLUSIVE, noisy, budget=plan),
            _workload(Verdict.FASTER, FASTER, name="decided"),
            _workload(Verdict.INCONCLUSIVE, noisy, name="unplanned"),
        )
    )
    first, decided, unplanned = doc["workloads"]
    assert first["to_decide"] == {"verdict": "changed", "pairs": 52, "seconds": 15.3}
    assert decided["to_decide"] is None
    assert unplanned["to_decide"] == {"verdict": "changed", "pairs": 52, "seconds": None}
