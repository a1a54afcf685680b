"""A/B comparison of two git refs: interleaved pairs in isolated worktrees, adaptive stopping.

``compare`` checks both refs out into disposable worktrees (``worktrees.py``), pins the workload's
harness files to BASE, runs each side's ``setup`` once, warms both sides up, then measures pairs
(one base and one candidate process, order randomised per pair from a recorded seed) until the
group-sequential rule in ``stats.py`` settles a verdict or the budget is spent. ``calibrate`` is
the A/A twin that measures the machine's noise. Both store everything and never print.
"""

from __future__ import annotations

import difflib
import math
import secrets
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from perfop import __version__, stats
from perfop.config import LoadedConfig, ResolvedWorkload, WorkloadConfig, resolve_workload
from perfop.environment import capture_environment, redact_text
from perfop.errors import UsageError, WorkloadError
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult, RunStatus, Verdict
from perfop.runner import run_process, run_setup, set_affinity, workload_env
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
    workload_files,
)

COMPARISON_SCHEMA = "perfop.comparison/1"
CALIBRATION_SCHEMA = "perfop.calibration/1"
Harness = Literal["base", "candidate"]
Behavior = Literal["same", "changed", "unchecked"]
DIFF_LINES = 12


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
class MetricResult:
    """One metric of one workload: medians of both sides and the paired analysis."""

    name: str
    unit: str
    better: str
    base_median: float
    candidate_median: float
    analysis: stats.MetricComparison

    @property
    def verdict(self) -> Verdict:
        return self.analysis.verdict


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
    base_run_id: int | None = None
    cand_run_id: int | None = None
    planned_pairs: int = 0
    first_batch: int = 0
    calibrated: bool = False

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


@dataclass(frozen=True)
class CalibrationResult:
    id: int
    workload: str
    ref: RefInfo
    pairs: int
    noise_sd: float
    planned_pairs: int
    mde: float
    noise_floor: float
    threshold: float
    warning: str | None
    failure: str | None = None


# --- the pair loop shared by compare and calibrate --------------------------------------------


@dataclass
class _Side:
    label: str  # "base" | "candidate"
    checkout: Checkout
    resolved: ResolvedWorkload
    env: dict[str, str]
    run_id: int
    results: list[ProcessResult] = field(default_factory=list)


class _SideFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _failure_text(side: str, result: ProcessResult) -> str:
    tail = [ln for ln in result.stderr_tail.strip().splitlines() if ln.strip()][-1:] or [""]
    text = f"{side} side failed: {result.describe_failure()}"
    if tail[0]:
        text += f": {redact_text(tail[0])[:200]}"
    return text


class _PairRunner:
    def __init__(self, store: Store, base: _Side, cand: _Side, seed: int, name: str) -> None:
        self.store = store
        self.sides = (base, cand)
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))
        self.index = 0
        self.pair_walls: list[float] = []

    def _run(self, side: _Side, *, record: bool) -> ProcessResult:
        r = side.resolved
        result = run_process(r.argv, cwd=r.cwd, env=side.env, timeout=r.timeout)
        if record:
            self.store.add_result(side.run_id, self.index, result)
        if not result.ok:
            raise _SideFailed(_failure_text(side.label, result))
        return result

    def warm_up(self, rounds: int) -> float | None:
        """Warm both sides (alternating); returns the wall time of one pair, if measured."""
        cost = None
        for _ in range(rounds):
            t0 = time.monotonic()
            for side in self.sides:
                self._run(side, record=False)
            cost = time.monotonic() - t0
        return cost

    def pair(self) -> None:
        t0 = time.monotonic()
        order = self.sides[::-1] if self.rng.random() < 0.5 else self.sides
        for side in order:
            side.results.append(self._run(side, record=True))
        self.index += 1
        self.pair_walls.append(time.monotonic() - t0)


def _plan_pairs(pair_cost: float | None, *, min_runs: int, max_runs: int, max_time: float) -> int:
    if pair_cost is None or pair_cost <= 0:
        return max_runs
    by_time = int(max_time / (pair_cost * 1.05))
    return max(min_runs, min(max_runs, by_time))


def _values(results: Sequence[ProcessResult], metric: str) -> list[float]:
    return [r.metrics.get(metric, math.nan) for r in results]


def _metric_specs(results: Sequence[ProcessResult], wl: WorkloadConfig) -> dict[str, MetricSpec]:
    specs = {n: MetricSpec(n, u, b) for n, (u, b) in BUILTIN_METRICS.items()}
    for r in results:
        for name, spec in r.metric_specs.items():
            specs.setdefault(name, spec)
    if wl.metrics:
        keep = [*wl.metrics, wl.primary_metric]
        specs = {n: s for n, s in specs.items() if n in keep}
    return specs


def _behavior(base: ProcessResult, cand: ProcessResult, check: bool) -> tuple[Behavior, str]:
    if not check:
        return "unchecked", ""
    if base.stdout_digest == cand.stdout_digest:
        return "same", ""
    diff = list(
        difflib.unified_diff(
            base.stdout_head.splitlines(),
            cand.stdout_head.splitlines(),
            "base",
            "candidate",
            lineterm="",
            n=1,
        )
    )
    shown = diff[:DIFF_LINES] + (["..."] if len(diff) > DIFF_LINES else [])
    return "changed", redact_text("\n".join(shown))


def _analyse(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    specs: dict[str, MetricSpec],
    *,
    z_bound: float,
    alpha: float,
    threshold: float,
) -> tuple[MetricResult, ...]:
    out = []
    for name, spec in specs.items():
        b, c = _values(base, name), _values(cand, name)
        analysis = stats.compare_metric(
            b, c, z_bound=z_bound, alpha=alpha, threshold=threshold, better=spec.better
        )
        bf = [v for v in b if math.isfinite(v)]
        cf = [v for v in c if math.isfinite(v)]
        out.append(
            MetricResult(
                name=name,
                unit=spec.unit,
                better=spec.better,
                base_median=float(np.median(bf)) if bf else math.nan,
                candidate_median=float(np.median(cf)) if cf else math.nan,
                analysis=analysis,
            )
        )
    return tuple(out)


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


def _names(loaded: LoadedConfig, names: Sequence[str]) -> list[str]:
    if names:
        for n in names:
            loaded.workload(n)  # ConfigError naming the unknown workload
        return list(dict.fromkeys(names))
    if not loaded.config.workloads:
        raise UsageError(
            f"{loaded.source}: no workloads configured; add [tool.perfop.workloads.NAME] "
            "to compare refs"
        )
    return list(loaded.config.workloads)


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
    names = _names(loaded, workloads)
    base_info, cand_ref = resolve_refs(repo, base, candidate, config.base)
    seed = seed if seed is not None else config.seed
    seed = seed if seed is not None else secrets.randbits(32)
    cstore.reap_stale_comparisons(store)
    set_affinity(config.affinity)
    env_id = store.add_environment(capture_environment(repo))
    with WorktreeSession(repo) as session:
        base_co = session.checkout("base", base_info.ref)
        cand_co = session.checkout("cand", cand_ref)
        cand_info = RefInfo(cand_ref, cand_co.sha)
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
            cstore.finish_comparison(store, cid, status, comparison_document(result))
    return result


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
    budget_runs = max_runs or wl.max_runs
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
        sides.append(_Side(label, co, res, workload_env(res.env), run_id))
    base, cand = sides
    runner = _PairRunner(store, base, cand, seed, name)
    calibration = cstore.latest_calibration(store, name)
    noise = calibration.get("noise_sd") if calibration else None

    def done(**kw: Any) -> WorkloadComparison:
        specs = _metric_specs(base.results + cand.results, wl)
        for side in sides:
            failed = kw.get("failure") is not None
            store.finish_run(side.run_id, RunStatus.FAILED if failed else RunStatus.COMPLETE, specs)
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
            **kw,
        )

    try:
        for side in sides:
            try:
                run_setup(side.resolved, env=side.env)
            except WorkloadError as exc:
                raise _SideFailed(f"{side.label} side: {exc.message}") from None
        # The budget (max_time) covers warm-up and pairs, not the one-off setup.
        budget_start = time.monotonic()
        deadline = budget_start + budget_time
        pair_cost = runner.warm_up(wl.warmup)
        rough = _plan_pairs(
            pair_cost, min_runs=min_runs, max_runs=budget_runs, max_time=budget_time
        )
        first = stats.first_batch(
            noise, min_pairs=min_runs, max_pairs=rough, threshold=config.threshold
        )
        progress.workload_started(name, rough)
        behavior: Behavior = "unchecked"
        diff = ""

        def run_pairs(target: int, planned: int) -> None:
            nonlocal behavior, diff
            while runner.index < target:
                n = runner.index
                if n >= min_runs and time.monotonic() + float(np.median(runner.pair_walls)) > (
                    deadline
                ):
                    return
                runner.pair()
                if n == 0:
                    behavior, diff = _behavior(base.results[0], cand.results[0], wl.check_output)
                progress.pair_done(name, runner.index, planned)

        run_pairs(first, rough)
        # Plan the rest from the pairs just measured (the median pair, so a slow first pair or a
        # cold warm-up does not shrink the plan), then look on the geometric schedule.
        per_pair = float(np.median(runner.pair_walls))
        remaining = max(0.0, deadline - time.monotonic())
        planned = max(runner.index, min(budget_runs, runner.index + int(remaining / per_pair)))
        design = stats.plan(
            alpha=config.alpha, threshold=config.threshold, first=runner.index,
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
    except _SideFailed as exc:
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
    specs = _metric_specs(base.results + cand.results, wl)
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
            planned_pairs=planned,
            first_batch=first,
            failure=f"primary metric {wl.primary_metric!r} was not reported; print "
            f"'PERFOP_METRIC {wl.primary_metric}=VALUE' or fix primary_metric",
        )
    metrics = _analyse(
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
        planned_pairs=planned,
        first_batch=first,
    )


def _primary_code(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    metric: str,
    design: stats.SequentialDesign,
    k: int,
) -> int:
    x = stats.log_ratios(_values(base, metric), _values(cand, metric))
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


# --- calibrate -------------------------------------------------------------------------------


def calibrate(
    store: Store,
    loaded: LoadedConfig,
    *,
    workloads: Sequence[str] = (),
    ref: str = "HEAD",
    seed: int | None = None,
    max_time: float | None = None,
    max_runs: int | None = None,
) -> list[CalibrationResult]:
    """A/A: the same commit on both sides, for the workload's whole budget; stores the noise."""
    repo = loaded.repo_root
    config = loaded.config
    names = _names(loaded, workloads)
    sha = resolve_ref(repo, ref)
    seed = (
        seed
        if seed is not None
        else (config.seed if config.seed is not None else secrets.randbits(32))
    )
    set_affinity(config.affinity)
    env_id = store.add_environment(capture_environment(repo))
    out: list[CalibrationResult] = []
    with WorktreeSession(repo) as session:
        a = session.checkout("base", sha)
        b = session.checkout("cand", sha)
        for name in names:
            out.append(
                _calibrate_workload(
                    store,
                    loaded,
                    name,
                    a,
                    b,
                    ref=ref,
                    seed=seed,
                    max_time=max_time,
                    max_runs=max_runs,
                    env_id=env_id,
                )
            )
    return out


def _calibrate_workload(
    store: Store,
    loaded: LoadedConfig,
    name: str,
    a: Checkout,
    b: Checkout,
    *,
    ref: str,
    seed: int,
    max_time: float | None,
    max_runs: int | None,
    env_id: int,
) -> CalibrationResult:
    wl = loaded.workload(name)
    config = loaded.config
    budget_time = max_time or wl.max_time
    budget_runs = max_runs or wl.max_runs
    sides = []
    for label, co in (("base", a), ("candidate", b)):
        res = resolve_workload(
            name, wl, repo=loaded.repo_root, worktree=loaded.project_dir(co.path)
        )
        run_id = store.begin_run(
            workload=name,
            argv=res.argv,
            kind="calibrate",
            cwd=str(res.cwd),
            env=res.env,
            ref=ref,
            sha=co.sha,
            settings={"max_time": budget_time, "max_runs": budget_runs},
            environment_id=env_id,
            side=label,
        )
        sides.append(_Side(label, co, res, workload_env(res.env), run_id))
    runner = _PairRunner(store, sides[0], sides[1], seed, name)
    started = time.monotonic()
    failure = None
    try:
        for side in sides:
            run_setup(side.resolved, env=side.env)
        runner.warm_up(wl.warmup)
        t0 = time.monotonic()
        while runner.index < budget_runs:
            if runner.index >= 3 and time.monotonic() - started > budget_time:
                break
            runner.pair()
        measuring = time.monotonic() - t0
    except (_SideFailed, WorkloadError) as exc:
        failure = getattr(exc, "message", str(exc))
        measuring = time.monotonic() - started
    for side in sides:
        store.finish_run(side.run_id, RunStatus.FAILED if failure else RunStatus.COMPLETE)
    x = stats.log_ratios(
        _values(sides[0].results, wl.primary_metric), _values(sides[1].results, wl.primary_metric)
    )
    noise_sd = stats.robust_sd(x)
    per_pair = measuring / max(runner.index, 1)
    planned = _plan_pairs(
        per_pair, min_runs=wl.min_runs, max_runs=budget_runs, max_time=budget_time
    )
    design = stats.plan(
        alpha=config.alpha, threshold=config.threshold, first=wl.min_runs, max_pairs=planned
    )
    z_final = design.z_bounds[-1]
    if math.isfinite(noise_sd):
        mde = stats.planned_mde(noise_sd, planned, threshold=config.threshold, z_bound=z_final)
        floor = math.expm1((z_final + stats.POWER_Z) * noise_sd / math.sqrt(planned))
    else:
        mde = floor = math.nan
    warning = None
    if math.isfinite(floor) and config.threshold < floor:
        warning = (
            f"threshold {config.threshold:.1%} is below what this machine can detect for "
            f"{name!r} within the budget ({floor:.1%} with {planned} pairs); raise 'threshold', "
            "'max_time' or 'max_runs', or pin CPUs with 'affinity'"
        )
    doc = {
        "schema": CALIBRATION_SCHEMA,
        "workload": name,
        "ref": ref,
        "sha": a.sha,
        "pairs": runner.index,
        "seed": seed,
        "noise_sd": noise_sd,
        "planned_pairs": planned,
        "mde": mde,
        "noise_floor": floor,
        "threshold": config.threshold,
        "warning": warning,
        "failure": failure,
    }
    cal_id = cstore.add_calibration(
        store,
        workload=name,
        ref=ref,
        sha=a.sha,
        pairs=runner.index,
        noise_sd=noise_sd if failure is None else None,
        mde=mde,
        threshold=config.threshold,
        environment_id=env_id,
        document=doc,
    )
    return CalibrationResult(
        id=cal_id,
        workload=name,
        ref=RefInfo(ref, a.sha),
        pairs=runner.index,
        noise_sd=noise_sd,
        planned_pairs=planned,
        mde=mde,
        noise_floor=floor,
        threshold=config.threshold,
        warning=warning,
        failure=failure,
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
