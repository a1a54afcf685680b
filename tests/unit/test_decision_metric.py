"""Which metric decides a verdict (issue 14, point 8b): CPU time for CPU-bound workloads, checked
by wall time; wall time for workloads that sleep or wait (docs/statistics.md, section 3d).

Synthetic pairs of ``ProcessResult``s, no processes: each run's CPU time carries a small noise
and its wall time adds a waiting factor (the machine's, or the workload's own sleep).
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from perfop import stats
from perfop.compare.pairs import (
    CPU,
    WALL,
    Decision,
    MetricResult,
    choose_decision,
    decision_code,
    vetoed,
)
from perfop.model import ProcessResult, Verdict

ALPHA, THRESHOLD, MAX_PAIRS = 0.05, 0.02, 40


def _run(cpu: float, wall: float) -> ProcessResult:
    return ProcessResult(
        argv=("w",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=cpu * 0.95,
        sys_time=cpu * 0.05,
        peak_rss=1,
        metrics={WALL: wall, CPU: cpu},
    )


def _pairs(
    seed: int,
    *,
    n: int = MAX_PAIRS,
    cpu_effect: float = 0.0,
    sleep: tuple[float, float] = (0.0, 0.0),
    cpu_sd: float = 0.003,
    wait_sd: float = 0.05,
) -> tuple[list[ProcessResult], list[ProcessResult]]:
    """n pairs of (base, candidate): CPU time 0.1 s x noise x (1 + cpu_effect) on the
    candidate; wall time = CPU time x a waiting factor (in half the runs, a CPU shared with
    others: exp(|N(0, wait_sd)|); in the rest at most 0.5%) + each side's own ``sleep``."""
    rng = np.random.default_rng(seed)
    sides: list[list[ProcessResult]] = [[], []]
    for _ in range(n):
        for k, side in enumerate(sides):
            cpu = 0.1 * float(np.exp(rng.normal(0, cpu_sd))) * (1 + cpu_effect * k)
            shared = rng.random() < 0.5  # half the runs share their CPU with others
            wait = abs(rng.normal(0, wait_sd if shared else min(wait_sd, 0.005)))
            wall = cpu * float(np.exp(wait)) + sleep[k]
            side.append(_run(cpu, wall))
    return sides[0], sides[1]


@functools.lru_cache(maxsize=1)
def _design() -> stats.SequentialDesign:
    return stats.plan(alpha=ALPHA, threshold=THRESHOLD, first=5, max_pairs=MAX_PAIRS)


def _sequential(
    base: list[ProcessResult], cand: list[ProcessResult], decision: Decision | None = None
) -> tuple[int, int, Decision]:
    """What ``compare`` does with the pairs: choose the metric on the first batch (5 pairs),
    then look on the group-sequential schedule of a MAX_PAIRS budget until a verdict."""
    design = _design()
    first = design.looks[0]
    decision = decision or choose_decision(base[:first], cand[:first], WALL)
    for n, zb in zip(design.looks, design.z_bounds, strict=True):
        code = decision_code(
            base[:n], cand[:n], decision, z_bound=zb, threshold=THRESHOLD, alpha=ALPHA
        )
        if code != stats.UNDECIDED:
            return code, n, decision
    return stats.UNDECIDED, MAX_PAIRS, decision


def test_the_first_batch_of_a_cpu_bound_loop_chooses_cpu_time_with_wall_as_its_check() -> None:
    base, cand = _pairs(1, n=5)
    d = choose_decision(base, cand, WALL)
    assert d.metric == CPU and d.check == WALL
    assert d.cpu_share is not None and min(d.cpu_share) >= stats.CPU_BOUND_SHARE
    assert d.reason.startswith("CPU-bound: best run's cpu/wall") and "must overlap" in d.reason


def test_a_cpu_bound_3pct_slowdown_is_decided_on_cpu_where_wall_alone_is_inconclusive() -> None:
    # Wall time's waiting noise (a CPU shared in half the runs, up to ~1.5x) hides a 3% change
    # within 40 pairs; CPU time (0.3%) shows it within the first looks, and wall time's wide
    # interval does not contradict it.
    wall_only = Decision(metric=WALL)
    decided_wall = decided_cpu = 0
    for seed in range(20):
        base, cand = _pairs(100 + seed, cpu_effect=0.03, wait_sd=0.25)
        code, n, d = _sequential(base, cand)
        assert d.metric == CPU
        assert code == stats.INCREASE and n <= 10
        decided_cpu += 1
        old, _, _ = _sequential(base, cand, wall_only)
        assert old != stats.DECREASE
        decided_wall += old == stats.INCREASE
    assert decided_cpu == 20 and decided_wall <= 6
    # One draw in full: the wall-only rule (the code before point 8b) spends the whole budget.
    base, cand = _pairs(100, cpu_effect=0.03, wait_sd=0.25)
    assert _sequential(base, cand, wall_only)[0] == stats.UNDECIDED
    assert stats.orient(_sequential(base, cand)[0], "lower") is Verdict.SLOWER


def test_a_cpu_bound_aa_run_reaches_unchanged_on_cpu_time() -> None:
    reached = reached_wall = 0
    for seed in range(20):
        base, cand = _pairs(200 + seed, wait_sd=0.08)
        code, _, d = _sequential(base, cand)
        assert d.metric == CPU and code in (stats.EQUIVALENT, stats.UNDECIDED)
        reached += code == stats.EQUIVALENT
        old, _, _ = _sequential(base, cand, Decision(metric=WALL))
        assert old in (stats.EQUIVALENT, stats.UNDECIDED)
        reached_wall += old == stats.EQUIVALENT
    assert reached == 20 and reached_wall <= 5


def test_a_sleep_bound_workload_is_decided_on_wall_time() -> None:
    # 0.1 s of computing plus 0.3 s of sleep; the candidate sleeps 0.05 s longer: CPU time is
    # unchanged (it would say `unchanged`), wall time is 12% slower, and wall time decides.
    base, cand = _pairs(3, sleep=(0.3, 0.35), wait_sd=0.01)
    d = choose_decision(base[:5], cand[:5], WALL)
    assert d.metric == WALL and d.check is None
    assert d.cpu_share is not None and max(d.cpu_share) < 0.5
    assert "not CPU-bound" in d.reason
    code, _, _ = _sequential(base, cand)
    assert code == stats.INCREASE
    assert _sequential(base, cand, Decision(metric=CPU, check=WALL))[0] != stats.INCREASE


def test_wall_time_contradicting_cpu_time_blocks_the_verdict() -> None:
    # CPU-bound on both sides (cpu/wall ~0.93 vs ~0.99), but the candidate waits 6% more: CPU
    # time alone says `unchanged`, wall time's interval lies above CPU time's: no verdict.
    base, cand = _pairs(4, sleep=(0.0, 0.006), wait_sd=0.002)
    d = choose_decision(base[:5], cand[:5], WALL)
    assert d.metric == CPU
    design = _design()
    rule = {"z_bound": design.z_bounds[-1], "threshold": THRESHOLD, "alpha": ALPHA}
    assert decision_code(base, cand, Decision(metric=CPU), **rule) == stats.EQUIVALENT
    assert decision_code(base, cand, d, **rule) == stats.UNDECIDED
    assert vetoed(base, cand, d, **rule)
    assert _sequential(base, cand)[0] == stats.UNDECIDED


def test_a_parallel_program_is_not_decided_on_cpu_time() -> None:
    base, _ = _pairs(5, n=5)
    double = [replace(r, metrics={WALL: r.metrics[WALL] / 2, CPU: r.metrics[CPU]}) for r in base]
    d = choose_decision(double, [replace(r) for r in double], WALL)
    assert d.metric == WALL and d.cpu_median is not None and min(d.cpu_median) > 1.5


def test_only_a_wall_time_primary_metric_is_replaced() -> None:
    base, cand = _pairs(6, n=5)
    assert choose_decision(base, cand, "peak_rss") == Decision(metric="peak_rss")


@pytest.mark.parametrize("share", [0.89, 0.90])
def test_the_cpu_bound_share_is_the_documented_one(share: float) -> None:
    runs = [_run(share, 1.0)] * 5
    assert (choose_decision(runs, runs, WALL).metric == CPU) is (share >= 0.90)


def test_decide_checked_only_removes_verdicts() -> None:
    rng = np.random.default_rng(7)
    x_cpu = rng.normal(0.0, 0.01, (2_000, 20))
    x_wall = x_cpu + rng.normal(0.0, 0.05, (2_000, 20))
    kw = {"z_bound": 2.5, "threshold": THRESHOLD, "alpha": ALPHA}
    alone = stats.decide(x_cpu, **kw)
    checked = stats.decide_checked(x_cpu, x_wall, **kw)
    assert np.all((checked == alone) | (checked == stats.UNDECIDED))


# --- what the verdict says about the metric that decided it -----------------------------------


def _decided_on_cpu(vetoed: bool = False) -> Any:
    from test_compare_render import _analysis, _workload

    cpu = _analysis(1.031, 1.024, 1.038, Verdict.SLOWER)
    wall = _analysis(1.04, 0.97, 1.11, Verdict.INCONCLUSIVE)
    decision = Decision(
        metric=CPU, check=WALL, cpu_share=(0.99, 0.98), cpu_median=(0.8, 0.79), vetoed=vetoed
    )
    return replace(
        _workload(Verdict.INCONCLUSIVE if vetoed else Verdict.SLOWER, None),
        metrics=(
            MetricResult(WALL, "s", "lower", 0.1, 0.104, wall),
            MetricResult(CPU, "s", "lower", 0.09, 0.093, cpu),
        ),
        decision=decision,
    )


def test_the_terminal_says_which_metric_decided_and_what_wall_time_said() -> None:
    from perfop.cli.compare import format_machine_lines, format_summary_line

    wc = _decided_on_cpu()
    assert wc.decided_on == CPU and wc.primary is not None and wc.primary.name == CPU
    assert format_summary_line(wc, 0.02) == (
        "parse: 1.03x slower (CI 1.02x-1.04x, 23 pairs, behaviour unchanged); decided on CPU "
        "time (user+sys), wall time 1.040 (0.970-1.110) consistent"
    )
    assert format_machine_lines(wc)[0] == (
        "decided on CPU time (user+sys): CPU-bound: best run's cpu/wall 0.99/0.98 "
        "(base/candidate) >= 0.90, median 0.80/0.79 <= 1.10; wall time's interval must overlap "
        "CPU time's"
    )
    vetoed = format_summary_line(_decided_on_cpu(vetoed=True), 0.02)
    assert vetoed.startswith("parse: inconclusive (ratio 1.031, CI 1.024-1.038, 23 pairs")
    assert "but wall time 1.040 (0.970-1.110) contradicts it" in vetoed


def test_the_json_document_and_the_report_record_the_deciding_metric() -> None:
    from perfop.compare.cpuwall import decision_text
    from perfop.compare.service import ComparisonResult, RefInfo, comparison_document

    wc = _decided_on_cpu()
    refs = RefInfo("a", "1" * 40), RefInfo("b", "2" * 40)
    result = ComparisonResult(1, *refs, 7, 0.02, 0.05, "base", (wc,))
    (w,) = comparison_document(result)["workloads"]
    assert w["primary_metric"] == WALL and w["decided_on"] == CPU
    assert w["decision"]["metric"] == CPU and w["decision"]["check"] == WALL
    assert w["decision"]["cpu_share"] == [0.99, 0.98] and w["decision"]["vetoed"] is False
    assert str(decision_text(w["decision"])).startswith("CPU time (user+sys): CPU-bound: best")
    failed = replace(wc, verdict=None, decision=None, metrics=())
    result = replace(result, workloads=(failed,))
    (w,) = comparison_document(result)["workloads"]
    assert w["decided_on"] is None and w["decision"] is None


def test_the_report_shows_the_deciding_metric_of_each_validation() -> None:
    from perfop.compare.service import ComparisonResult, RefInfo, comparison_document
    from perfop.records.comparison import load_comparison
    from perfop.report.markdown import _validation_machine
    from perfop.report.model import ValidationResult
    from perfop.report.validations import workload_results

    refs = RefInfo("a", "1" * 40), RefInfo("b", "2" * 40)
    doc = comparison_document(
        ComparisonResult(1, *refs, 7, 0.02, 0.05, "base", (_decided_on_cpu(),))
    )
    (w,) = workload_results(load_comparison(doc, 1))
    # the verdict's ratio and interval in the report are the deciding metric's
    assert w.primary_metric == CPU and w.decision is not None
    v = ValidationResult(
        1, "H1", "confirmed", (), "a", "1" * 40, "b", "2" * 40, "now", (w,), None, (), ()
    )
    text = "\n".join(_validation_machine(v))
    assert "**Decided on** (parse): CPU time (user+sys): CPU-bound: best run's cpu/wall" in text
