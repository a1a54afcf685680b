"""Per-benchmark verdicts of a suite with Benjamini-Hochberg control (recorded samples, no
processes): the step-up cutoff, the downgrade of verdicts BH does not keep, gate criteria."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from perfop import stats
from perfop.compare.suites import bh_level, decide_suite, suite_design
from perfop.model import MetricSpec, ProcessResult, Verdict


def _result(metrics: dict[str, float]) -> ProcessResult:
    return ProcessResult(
        argv=("suite",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=1.0,
        user_time=0.5,
        sys_time=0.1,
        peak_rss=1,
        metrics={"wall_time": 1.0, **metrics},
    )


def _sides(ratios: dict[str, float], n: int, sd: float, seed: int = 1) -> tuple[list, list]:
    rng = np.random.default_rng(seed)
    base, cand = [], []
    for _ in range(n):
        b = {name: 1e-3 * float(np.exp(rng.normal(0, sd))) for name in ratios}
        c = {name: b[name] * r * float(np.exp(rng.normal(0, sd))) for name, r in ratios.items()}
        base.append(_result(b))
        cand.append(_result(c))
    return base, cand


def _specs(names: list[str]) -> dict[str, MetricSpec]:
    return {n: MetricSpec(n, "s", "lower") for n in names}


def test_bh_cutoff_is_the_step_up_rule() -> None:
    # m = 4, q = 0.05: cutoffs 0.0125, 0.025, 0.0375, 0.05; p(3) = 0.03 qualifies, p(4) not.
    assert bh_level([0.5, 0.01, 0.03, 0.02], 0.05) == pytest.approx(0.0375)
    assert bh_level([0.2, 0.3], 0.05) == pytest.approx(0.025)  # none: q/m, rejects nothing
    assert bh_level([0.001, 0.04], 0.05) == pytest.approx(0.05)
    assert bh_level([math.nan, 0.001], 0.05) == pytest.approx(0.025)


def test_each_benchmark_is_decided_at_the_level_bh_allows() -> None:
    ratios = {"slow": 1.3, "fast": 0.7, **{f"same{i}": 1.0 for i in range(12)}, "edge": 1.06}
    base, cand = _sides(ratios, 12, 0.04)
    z = 2.4
    out = decide_suite(base, cand, _specs(list(ratios)), z_bound=z, alpha=0.05, threshold=0.02)
    by = {b.name: b for b in out.benchmarks}
    assert by["slow"].verdict == Verdict.SLOWER and by["fast"].verdict == Verdict.FASTER
    # The same computation by hand: p-values at the look, BH cutoff, decision at its boundary.
    ps = {}
    for name in ratios:
        b = [r.metrics[name] for r in base]
        c = [r.metrics[name] for r in cand]
        ps[name] = stats.compare_metric(b, c, z_bound=z, alpha=0.05, threshold=0.02).p_value
    level = bh_level(list(ps.values()), float(2 * norm.sf(z)))
    assert out.level == pytest.approx(level)
    assert level < out.look_level
    for name in ratios:
        b = [r.metrics[name] for r in base]
        c = [r.metrics[name] for r in cand]
        at_look = stats.compare_metric(b, c, z_bound=z, alpha=0.05, threshold=0.02).verdict
        strict = stats.compare_metric(
            b, c, z_bound=float(norm.isf(level / 2)), alpha=0.05, threshold=0.02
        ).verdict
        want = strict if at_look in (Verdict.FASTER, Verdict.SLOWER) else at_look
        assert by[name].verdict == want, name
        assert by[name].bh_downgraded == (at_look != want)
    # Sorted by effect, largest first.
    effects = [b.effect for b in out.benchmarks]
    assert effects == sorted(effects, reverse=True)
    assert out.verdict == Verdict.SLOWER


def test_bh_downgrades_a_verdict_that_only_the_look_level_supports() -> None:
    # One modest change among many nulls: significant at the look's level alone, not after BH.
    names = ["edge", *[f"same{i}" for i in range(30)]]
    for seed in range(200):
        base, cand = _sides({"edge": 1.05, **{n: 1.0 for n in names[1:]}}, 8, 0.03, seed)
        b = [r.metrics["edge"] for r in base]
        c = [r.metrics["edge"] for r in cand]
        first = stats.compare_metric(b, c, z_bound=2.0, alpha=0.05, threshold=0.02)
        if first.verdict == Verdict.SLOWER and first.p_value > 0.05 * 2 / 31:
            break
    else:
        pytest.fail("no seed gave a marginal verdict")
    out = decide_suite(base, cand, _specs(names), z_bound=2.0, alpha=0.05, threshold=0.02)
    edge = next(x for x in out.benchmarks if x.name == "edge")
    assert edge.verdict == Verdict.INCONCLUSIVE and edge.bh_downgraded


def test_gate_criteria_fail_on_and_fail_if_faster() -> None:
    ratios = {"parse": 1.5, "render": 0.6, "pinned": 0.6, "other": 1.5}
    base, cand = _sides(ratios, 12, 0.02)
    out = decide_suite(
        base,
        cand,
        _specs(list(ratios)),
        z_bound=2.4,
        alpha=0.05,
        threshold=0.02,
        fail_on=["parse", "render", "pin*"],
        fail_if_faster=["pin*"],
    )
    assert set(out.failing) == {"parse", "pinned"}  # "other" is slower but not gated


def test_failed_and_missing_benchmarks_are_reported_and_gone_ones_fail_a_gate() -> None:
    base, cand = _sides({"kept": 1.0, "gone": 1.0}, 8, 0.02)
    cand = [_result({"kept": r.metrics["kept"], "new": 1.0}) for r in cand]
    out = decide_suite(
        base,
        cand,
        _specs(["kept", "gone", "new"]),
        z_bound=2.4,
        alpha=0.05,
        threshold=0.02,
        failed=({}, {"gone": "ZeroDivisionError: division by zero"}),
    )
    by = {b.name: b for b in out.benchmarks}
    assert by["gone"].status == "failed on candidate"
    assert "ZeroDivisionError" in by["gone"].reason and by["gone"].fails_gate
    assert by["new"].status == "missing on base" and not by["new"].fails_gate
    assert out.benchmarks[0].status != "compared"  # failures listed first
    assert out.verdict == Verdict.INCONCLUSIVE


def test_a_suite_looks_after_the_first_batch_and_at_the_plan_only() -> None:
    """Two looks, O'Brien-Fleming: the last one's level stays near alpha (the geometric Pocock
    schedule of a command workload ends far stricter), and BH divides that level."""
    design = suite_design(0.05, 0.02, 5, 12)
    assert design.looks == (5, 12) and design.spending == "obf"
    pocock = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=12)
    assert len(pocock.looks) > 2
    assert design.z_bounds[0] > design.z_bounds[-1]  # the early look is the strict one
    assert design.z_bounds[-1] < pocock.z_bounds[-1] - 0.3
    assert design.nominal_level(1) == pytest.approx(0.05 * stats.ALPHA_MARGIN, rel=0.15)
    assert suite_design(0.05, 0.02, 5, 5).looks == (5,)
    assert suite_design(0.05, 0.02, 2, 9).looks[0] == stats.min_pairs_for_verdict(alpha=0.05)
    ended = design.truncated(8)  # the budget ends the plan early: spend the rest at 8
    assert ended.looks == (5, 8) and ended.spending == "obf"
