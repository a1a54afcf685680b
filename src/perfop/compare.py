"""A/B comparison of two git refs: interleaved pairs in isolated worktrees, adaptive stopping.

``compare`` checks both refs out into disposable worktrees (``worktrees.py``), pins the workload's
harness files to BASE, runs each side's ``setup`` once, warms both sides up, then measures pairs
(one base and one candidate process, order randomised per pair from a recorded seed) until the
group-sequential rule in ``stats.py`` settles a verdict or the budget is spent (the pair loop is
``pairs.py``; its A/A twin is ``calibrate.py``). Stores everything, never prints.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from perfop import __version__, stats
from perfop.behavior import Behavior, check_behavior
from perfop.config import LoadedConfig, WorkloadConfig, resolve_workload
from perfop.contention import merge as merge_contention
from perfop.cpuwall import cpu_vs_wall_document
from perfop.environment import capture_environment
from perfop.errors import UsageError, WorkloadError
from perfop.model import ProcessResult, RunStatus, Verdict
from perfop.pairs import (
    MetricResult,
    PairRunner,
    Side,
    SideFailed,
    analyse,
    metric_specs,
    metric_values,
    plan_pairs,
    workload_names,
)
from perfop.runner import check_startable, run_setup, set_affinity, workload_env
from perfop.store import Store
from perfop.store import compare as cstore
from perfop.worktrees import (
    WORKTREE,
    Checkout,
    WorktreeSession,
    default_base,
    harness_touched,
    pin_harness,
    resolve_ref,
    settle_disk,
    workload_files,
)

COMPARISON_SCHEMA = "perfop.comparison/2"  # 2: "contention", workloads' "cpu_vs_wall"
UNSET_PAIR_CAP = 10_000  # see pair_cap: in practice max_time ends a comparison first
Harness = Literal["base", "candidate"]


class CompareProgress(Protocol):
    """Observer of a running comparison (the CLI draws a progress bar with it)."""

    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...


class _Silent:
    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...


@dataclass(frozen=True)
class RefInfo:
    ref: str
    sha: str


@dataclass(frozen=True)
class WorkloadComparison:
    """The outcome for one workload. ``verdict`` is None when a side failed."""

    name: str
    verdict: Verdict | None
    pairs: int
    behavior: Behavior
    harness: Harness
    harness_touched: bool
    touched_files: tuple[str, ...]
    pinned_files: tuple[str, ...]
    gate: bool
    primary_metric: str
    metrics: tuple[MetricResult, ...]
    elapsed: float
    stop_reason: str  # decided | budget (time) | planned (pairs) | failed
    failure: str | None = None
    behavior_diff: str = ""
    behavior_note: str = ""  # e.g. lines that vary between runs and were not compared
    base_run_id: int | None = None
    cand_run_id: int | None = None
    planned_pairs: int = 0
    first_batch: int = 0
    calibrated: bool = False
    contention: dict[str, Any] | None = None  # perfop.contention summary over the pairs

    @property
    def primary(self) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == self.primary_metric), None)

    @property
    def mde(self) -> float | None:
        p = self.primary
        return p.analysis.mde if p is not None and math.isfinite(p.analysis.mde) else None


@dataclass(frozen=True)
class ComparisonResult:
    id: int
    base: RefInfo
    candidate: RefInfo
    seed: int
    threshold: float
    alpha: float
    harness: Harness
    workloads: tuple[WorkloadComparison, ...]

    @property
    def contention(self) -> dict[str, Any] | None:
        """The machine's contention over all workloads' pairs (the worst level)."""
        return merge_contention([w.contention for w in self.workloads])


# --- compare ---------------------------------------------------------------------------------


def resolve_refs(
    repo: Path, base: str | None, candidate: str | None, configured_base: str | None
) -> tuple[RefInfo, str]:
    """Resolve BASE (default: config or merge-base) now, so a bad ref fails before any work."""
    base_ref = base or default_base(repo, configured_base)
    base_info = RefInfo(base_ref, resolve_ref(repo, base_ref))
    cand_ref = candidate or WORKTREE
    if cand_ref != WORKTREE:
        resolve_ref(repo, cand_ref)
    return base_info, cand_ref


def compare(
    store: Store,
    loaded: LoadedConfig,
    *,
    base: str | None = None,
    candidate: str | None = None,
    workloads: Sequence[str] = (),
    harness: Harness = "base",
    seed: int | None = None,
    max_time: float | None = None,
    max_runs: int | None = None,
    progress: CompareProgress | None = None,
) -> ComparisonResult:
    """Compare BASE and CANDIDATE (default: config base / merge-base, and WORKTREE)."""
    if harness not in ("base", "candidate"):
        raise UsageError(f"--harness must be 'base' or 'candidate' (got {harness!r})")
    if max_time is not None and max_time <= 0:
        raise UsageError(f"--max-time must be > 0 (got {max_time})")
    if max_runs is not None and max_runs < 1:
        raise UsageError(f"--max-runs must be >= 1 (got {max_runs})")
    progress = progress or _Silent()
    repo = loaded.repo_root
    config = loaded.config
    names = workload_names(loaded, workloads)
    base_info, cand_ref = resolve_refs(repo, base, candidate, config.base)
    seed = seed if seed is not None else config.seed
    seed = seed if seed is not None else secrets.randbits(32)
    cstore.reap_stale_comparisons(store)
    set_affinity(config.affinity)
    with WorktreeSession(repo) as session:
        base_co = session.checkout("base", base_info.ref)
        cand_co = session.checkout("cand", cand_ref)
        cand_info = RefInfo(cand_ref, cand_co.sha)
        _preflight(loaded, names, base_co)
        env_id = store.add_environment(capture_environment(repo))
        cid = cstore.begin_comparison(
            store,
            base_ref=base_info.ref,
            base_sha=base_info.sha,
            cand_ref=cand_ref,
            cand_sha=cand_co.sha,
            seed=seed,
            threshold=config.threshold,
            alpha=config.alpha,
            harness=harness,
            environment_id=env_id,
        )
        results: list[WorkloadComparison] = []
        status = "interrupted"
        try:
            for name in names:
                try:
                    wc = _compare_workload(
                        store,
                        loaded,
                        name,
                        base_co,
                        cand_co,
                        cid=cid,
                        seed=seed,
                        harness=harness,
                        max_time=max_time,
                        max_runs=max_runs,
                        env_id=env_id,
                        progress=progress,
                    )
                except WorkloadError as exc:
                    raise exc.naming(name, loaded.source) from None
                cstore.add_workload_result(store, cid, _workload_row(wc), _metric_rows(wc))
                results.append(wc)
            status = "complete"
        finally:
            result = ComparisonResult(
                id=cid,
                base=base_info,
                candidate=cand_info,
                seed=seed,
                threshold=config.threshold,
                alpha=config.alpha,
                harness=harness,
                workloads=tuple(results),
            )
            cstore.finish_comparison(
                store, cid, status, comparison_document(result), contention=result.contention
            )
    return result


def _preflight(loaded: LoadedConfig, names: Sequence[str], base_co: Checkout) -> None:
    """A configured command that cannot start at base is a configuration error (exit 2), found
    before anything is stored. Workloads with a ``setup`` are checked after it (it may create
    the program), and a program missing at the candidate only is that side's failure."""
    for name in names:
        wl = loaded.workload(name)
        if wl.setup:
            continue
        tree = loaded.project_dir(base_co.path)
        res = resolve_workload(name, wl, repo=loaded.repo_root, worktree=tree)
        try:
            check_startable(res.argv, cwd=res.cwd, env=workload_env(res.env))
        except WorkloadError as exc:
            raise exc.naming(name, loaded.source) from None


def _compare_workload(
    store: Store,
    loaded: LoadedConfig,
    name: str,
    base_co: Checkout,
    cand_co: Checkout,
    *,
    cid: int,
    seed: int,
    harness: Harness,
    max_time: float | None,
    max_runs: int | None,
    env_id: int,
    progress: CompareProgress,
) -> WorkloadComparison:
    wl = loaded.workload(name)
    config = loaded.config
    repo = loaded.repo_root
    started = time.monotonic()
    base_res = resolve_workload(name, wl, repo=repo, worktree=loaded.project_dir(base_co.path))
    files = workload_files(base_res.argv, cwd=base_res.cwd, tree=base_co.path)
    touched = tuple(harness_touched(repo, base_co.sha, cand_co.sha, files))
    pinned: tuple[str, ...] = ()
    if harness == "base":
        pinned = tuple(pin_harness(files, base=base_co.path, candidate=cand_co.path))
    cand_res = resolve_workload(name, wl, repo=repo, worktree=loaded.project_dir(cand_co.path))
    budget_time = max_time or wl.max_time
    budget_runs = max_runs or pair_cap(wl)
    min_runs = min(wl.min_runs, budget_runs)
    sides = []
    for label, co, res in (("base", base_co, base_res), ("candidate", cand_co, cand_res)):
        run_id = store.begin_run(
            workload=name,
            argv=res.argv,
            kind="compare",
            cwd=str(res.cwd),
            env=res.env,
            ref=co.ref,
            sha=co.sha,
            dirty=co.ref == WORKTREE,
            settings={
                "max_time": budget_time,
                "max_runs": budget_runs,
                "min_runs": min_runs,
                "warmup": wl.warmup,
                "seed": seed,
                "harness": harness,
            },
            environment_id=env_id,
            comparison_id=cid,
            side=label,
        )
        sides.append(Side(label, co, res, workload_env(res.env), run_id))
    base, cand = sides
    runner = PairRunner(store, base, cand, seed, name)
    calibration = cstore.latest_calibration(store, name)
    noise = calibration.get("noise_sd") if calibration else None

    def done(**kw: Any) -> WorkloadComparison:
        specs = metric_specs(base.results + cand.results, wl)
        contention = runner.contention.summary()
        for side in sides:
            failed = kw.get("failure") is not None
            status = RunStatus.FAILED if failed else RunStatus.COMPLETE
            store.finish_run(side.run_id, status, specs, contention=contention)
        progress.workload_finished(name)
        return WorkloadComparison(
            name=name,
            harness=harness,
            harness_touched=bool(touched),
            touched_files=touched,
            pinned_files=pinned,
            gate=wl.gate,
            primary_metric=wl.primary_metric,
            elapsed=time.monotonic() - started,
            base_run_id=base.run_id,
            cand_run_id=cand.run_id,
            calibrated=noise is not None,
            contention=contention,
            **kw,
        )

    try:
        for side in sides:
            try:
                run_setup(side.resolved, env=side.env)
            except WorkloadError as exc:
                raise SideFailed(f"{side.label} side: {exc.message}") from None
        # After setup, which may create the program (a venv's console script). Missing at base,
        # the configured command is wrong (exit 2); missing at the candidate only, the candidate
        # broke it (e.g. deleted a script under --harness candidate): a failure of that side.
        check_startable(base.resolved.argv, cwd=base.resolved.cwd, env=base.env)
        try:
            check_startable(cand.resolved.argv, cwd=cand.resolved.cwd, env=cand.env)
        except WorkloadError as exc:
            raise SideFailed(f"candidate side: {exc.message}") from None
        settle_disk()
        # The budget (max_time) covers warm-up and pairs, not the one-off setup.
        budget_start = time.monotonic()
        deadline = budget_start + budget_time
        pair_cost = runner.warm_up(wl.warmup)
        rough = plan_pairs(pair_cost, min_runs=min_runs, max_runs=budget_runs, max_time=budget_time)
        first = stats.first_batch(
            noise, min_pairs=min_runs, max_pairs=rough, threshold=config.threshold
        )
        progress.workload_started(name, rough)

        def run_pairs(target: int, planned: int) -> None:
            while runner.index < target:
                n = runner.index
                if n >= min_runs and time.monotonic() + float(np.median(runner.pair_walls)) > (
                    deadline
                ):
                    return
                runner.pair()
                progress.pair_done(name, runner.index, planned)

        run_pairs(first, rough)
        # Plan the rest from the pairs just measured (the median pair, so a slow first pair or a
        # cold warm-up does not shrink the plan), then look on the geometric schedule.
        per_pair = float(np.median(runner.pair_walls))
        remaining = max(0.0, deadline - time.monotonic())
        planned = max(runner.index, min(budget_runs, runner.index + int(remaining / per_pair)))
        design = stats.plan(
            alpha=config.alpha,
            threshold=config.threshold,
            first=runner.index,
            max_pairs=max(planned, runner.index),
        )
        k = 0
        stop_reason = "planned"
        while True:
            target = design.looks[k]
            run_pairs(target, planned)
            if runner.index < target:  # the time budget ends the plan early
                design = design.truncated(runner.index)
                k = len(design.looks) - 1
                stop_reason = "budget"
            primary = _primary_code(base.results, cand.results, wl.primary_metric, design, k)
            if primary != stats.UNDECIDED:
                stop_reason = "decided"
                break
            if k == len(design.looks) - 1:
                break
            k += 1
    except SideFailed as exc:
        return done(
            verdict=None,
            pairs=runner.index,
            behavior="unchecked",
            metrics=(),
            stop_reason="failed",
            failure=exc.message,
            planned_pairs=0,
            first_batch=0,
        )
    except BaseException:  # Ctrl-C, SIGTERM: both runs end as interrupted, then propagate
        for side in sides:
            store.finish_run(side.run_id, RunStatus.INTERRUPTED)
        raise
    checked = check_behavior(base.results, cand.results, wl.check_output)
    behavior, diff = checked.behavior, checked.diff
    specs = metric_specs(base.results + cand.results, wl)
    if wl.primary_metric not in specs or not any(
        wl.primary_metric in r.metrics for r in base.results
    ):
        return done(
            verdict=None,
            pairs=runner.index,
            behavior=behavior,
            metrics=(),
            stop_reason="failed",
            behavior_diff=diff,
            behavior_note=checked.note,
            planned_pairs=planned,
            first_batch=first,
            failure=f"primary metric {wl.primary_metric!r} was not reported; print "
            f"'PERFOP_METRIC {wl.primary_metric}=VALUE' or fix primary_metric",
        )
    metrics = analyse(
        base.results,
        cand.results,
        specs,
        z_bound=design.z_bounds[k],
        alpha=config.alpha,
        threshold=config.threshold,
    )
    verdict = next(m.verdict for m in metrics if m.name == wl.primary_metric)
    return done(
        verdict=verdict,
        pairs=runner.index,
        behavior=behavior,
        metrics=metrics,
        stop_reason=stop_reason,
        behavior_diff=diff,
        behavior_note=checked.note,
        planned_pairs=planned,
        first_batch=first,
    )


def pair_cap(wl: WorkloadConfig) -> int:
    """How many pairs a comparison may take: the workload's ``max_runs`` when it sets one;
    otherwise ``max_time`` alone bounds it. ``max_runs``' default (30) sizes a plain ``perfop
    run``; for a comparison, whose sequential rule stops as soon as the answer is settled, it
    would end small changes on short workloads as ``inconclusive`` long before the time budget
    (a 2% change at 1-2% noise needs a median 30 pairs, up to 75; an A/A proof of
    equivalence within +/-1% a median 118)."""
    return wl.max_runs if "max_runs" in wl.model_fields_set else UNSET_PAIR_CAP


def _primary_code(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    metric: str,
    design: stats.SequentialDesign,
    k: int,
) -> int:
    x = stats.log_ratios(metric_values(base, metric), metric_values(cand, metric))
    if x.size < 3:
        return stats.UNDECIDED
    return int(
        stats.decide(
            x,
            z_bound=design.z_bounds[k],
            threshold=design.threshold,
            alpha=design.alpha,
            trim=design.trim,
        )
    )


# --- documents -------------------------------------------------------------------------------


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _metric_rows(wc: WorkloadComparison) -> list[dict[str, Any]]:
    rows = []
    for m in wc.metrics:
        a = m.analysis
        rows.append(
            {
                "name": m.name,
                "unit": m.unit,
                "better": m.better,
                "base_median": _num(m.base_median),
                "candidate_median": _num(m.candidate_median),
                "ratio": _num(a.ratio),
                "ci_low": _num(a.ci_low),
                "ci_high": _num(a.ci_high),
                "p_value": _num(a.p_value),
                "nominal_level": _num(a.nominal_level),
                "verdict": a.verdict.value,
                "pairs": a.n,
                "mde": _num(a.mde),
                "geometric_mean_ratio": _num(a.gm_ratio),
                "geometric_mean_ci": [_num(a.gm_ci_low), _num(a.gm_ci_high)],
                "hodges_lehmann_ratio": _num(a.hl_ratio),
                "hodges_lehmann_ci": [_num(a.hl_ci_low), _num(a.hl_ci_high)],
                "wilcoxon_p": _num(a.wilcoxon_p),
            }
        )
    return rows


def _workload_row(wc: WorkloadComparison) -> dict[str, Any]:
    return {
        "workload": wc.name,
        "verdict": wc.verdict.value if wc.verdict else None,
        "pairs": wc.pairs,
        "behavior": wc.behavior,
        "harness": wc.harness,
        "harness_touched": wc.harness_touched,
        "failure": wc.failure,
        "base_run_id": wc.base_run_id,
        "cand_run_id": wc.cand_run_id,
        "elapsed": wc.elapsed,
        "touched_files": list(wc.touched_files),
        "pinned_files": list(wc.pinned_files),
        "stop_reason": wc.stop_reason,
        "behavior_diff": wc.behavior_diff,
        "contention": wc.contention,
    }


def comparison_document(result: ComparisonResult) -> dict[str, Any]:
    """The versioned JSON document of ``perfop compare --format json``."""
    workloads = []
    for wc in result.workloads:
        workloads.append(
            {
                "name": wc.name,
                "verdict": wc.verdict.value if wc.verdict else None,
                "pairs": wc.pairs,
                "behavior": wc.behavior,
                "behavior_diff": wc.behavior_diff or None,
                "behavior_note": wc.behavior_note or None,
                "harness": wc.harness,
                "harness_touched": wc.harness_touched,
                "touched_files": list(wc.touched_files),
                "pinned_files": list(wc.pinned_files),
                "gate": wc.gate,
                "primary_metric": wc.primary_metric,
                "failure": wc.failure,
                "stop_reason": wc.stop_reason,
                "planned_pairs": wc.planned_pairs,
                "first_batch": wc.first_batch,
                "calibrated": wc.calibrated,
                "mde": wc.mde,
                "elapsed": round(wc.elapsed, 3),
                "runs": {"base": wc.base_run_id, "candidate": wc.cand_run_id},
                "metrics": _metric_rows(wc),
                "cpu_vs_wall": cpu_vs_wall_document(wc.metrics, contention=wc.contention),
                "contention": wc.contention,
            }
        )
    return {
        "schema": COMPARISON_SCHEMA,
        "perfop_version": __version__,
        "id": result.id,
        "base": {"ref": result.base.ref, "sha": result.base.sha},
        "candidate": {"ref": result.candidate.ref, "sha": result.candidate.sha},
        "seed": result.seed,
        "threshold": result.threshold,
        "alpha": result.alpha,
        "harness": result.harness,
        "contention": result.contention,
        "workloads": workloads,
    }


def exit_code(
    result: ComparisonResult, *, fail_on_regression: bool, fail_on_inconclusive: bool
) -> int:
    """0 ok; 1 a side failed, or (asked) a gated workload is slower or changed behaviour;
    3 (asked) a gated workload is inconclusive."""
    gated = [w for w in result.workloads if w.gate]
    if any(w.failure for w in result.workloads):
        return 1
    if fail_on_regression and any(
        w.verdict == Verdict.SLOWER or w.behavior == "changed" for w in gated
    ):
        return 1
    if fail_on_inconclusive and any(w.verdict == Verdict.INCONCLUSIVE for w in gated):
        return 3
    return 0
