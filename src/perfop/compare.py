"""A/B comparison of two git refs: interleaved pairs in isolated worktrees, adaptive stopping.

``compare`` checks both refs out into disposable worktrees (``worktrees.py``), refuses a candidate
whose whole change is in the workload's own files (pinned to BASE, it would be an A/A run), pins
those files, runs each side's ``setup`` once, warms both sides up, plans the budget
(``budget.py``: one line up front when it cannot buy a verdict), then measures pairs (one base and
one candidate process, order randomised per pair from a recorded seed) until the group-sequential
rule in ``stats.py`` settles a verdict or the budget is spent (the pair loop is ``pairs.py``; its
A/A twin is ``calibrate.py``). A CPU-bound workload is decided on CPU time, checked by wall time
(``pairs.choose_decision``, docs/statistics.md section 3d). Stores everything, never prints:
notices go to the observer.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from perfop import __version__, stats
from perfop.behavior import Behavior, check_behavior
from perfop.budget import Budget, Clock, Plan, refuse_spent, workload_budget
from perfop.config import (
    LoadedConfig,
    WorkloadConfig,
    check_seconds,
    check_seed,
    resolve_workload,
)
from perfop.contention import merge as merge_contention
from perfop.cpuwall import cpu_vs_wall_document
from perfop.environment import capture_environment
from perfop.errors import UsageError, WorkloadError
from perfop.model import BUILTIN_METRICS, RunStatus, Verdict
from perfop.pairs import (
    Decision,
    MetricResult,
    PairRunner,
    Side,
    SideFailed,
    analyse,
    begin_sides,
    choose_decision,
    decision_code,
    metric_specs,
    plan_budget,
    run_pairs,
    typical_pair,
    vetoed,
    workload_names,
)
from perfop.runner import check_startable, run_setup, set_affinity, workload_env
from perfop.store import Store
from perfop.store import compare as cstore
from perfop.suites import SuiteSampler, short_window_notice, short_windows
from perfop.suites.decide import SuiteOutcome, decide_suite, suite_design
from perfop.worktrees import (
    WORKTREE,
    Checkout,
    WorktreeSession,
    default_base,
    git,
    harness_touched,
    pin_harness,
    resolve_ref,
    settle_disk,
    workload_files,
)

# 2: "contention", workloads' "cpu_vs_wall"; then, additively (a reader of 2 ignores them),
# workloads' "decided_on" and "decision": the metric a verdict was decided on (cpu_time for a
# CPU-bound workload, checked by wall_time) and why. Absent: decided on "primary_metric".
COMPARISON_SCHEMA = "perfop.comparison/2"
Harness = Literal["base", "candidate"]


class CompareProgress(Protocol):
    """Observer of a running comparison (the CLI draws a progress bar with it)."""

    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...

    def notice(self, name: str, level: str, text: str) -> None:
        """A line to say before the pairs ("note" or "warning"): the budget plan, the harness."""


class _Silent:
    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...

    def notice(self, name: str, level: str, text: str) -> None: ...


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
    harness_only: bool = False  # every change is in pinned files: measured A/A
    budget: Plan | None = None
    notices: tuple[str, ...] = ()  # said up front (budget plan, harness), in order
    suite: SuiteOutcome | None = None  # a suite workload: one verdict per benchmark
    decision: Decision | None = None  # which metric decided the verdict, and why

    @property
    def regressed(self) -> bool:
        """Fails a regression gate: slower, or (a suite) a benchmark its criteria fail on."""
        if self.suite is not None:
            return bool(self.suite.failing)
        return self.verdict == Verdict.SLOWER

    @property
    def decided_on(self) -> str:
        """The metric the verdict was decided on: ``primary_metric``, or ``cpu_time`` for a
        CPU-bound workload whose primary metric is ``wall_time``."""
        return self.decision.metric if self.decision is not None else self.primary_metric

    @property
    def primary(self) -> MetricResult | None:
        """The metric the verdict rests on (``decided_on``): its ratio and interval are the
        ones a verdict is shown with."""
        return next((m for m in self.metrics if m.name == self.decided_on), None)

    @property
    def check(self) -> MetricResult | None:
        """The metric that checked the deciding one (wall time beside CPU time), if any."""
        name = self.decision.check if self.decision is not None else None
        return next((m for m in self.metrics if m.name == name), None) if name else None

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
    elapsed: float = 0.0  # the whole comparison, from the command's start to after clean-up

    @property
    def contention(self) -> dict[str, Any] | None:
        """The machine's contention over all workloads' pairs (the worst level)."""
        return merge_contention([w.contention for w in self.workloads])


# --- compare ---------------------------------------------------------------------------------


def resolve_refs(
    repo: Path, base: str | None, candidate: str | None, configured_base: str | None
) -> tuple[RefInfo, str]:
    """Resolve BASE (default: config or merge-base) now, so a bad ref fails before any work."""
    # An explicit "" is a mistake (an unset shell variable), not "the default".
    base_ref = base if base is not None else default_base(repo, configured_base)
    base_info = RefInfo(base_ref, resolve_ref(repo, base_ref))
    cand_ref = candidate if candidate is not None else WORKTREE
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
    max_pairs: int | None = None,
    max_runs: int | None = None,
    progress: CompareProgress | None = None,
    started: float | None = None,
    clock: Clock = time.monotonic,
    harness_only: Literal["refuse", "warn"] = "refuse",
) -> ComparisonResult:
    """Compare BASE and CANDIDATE (default: config base / merge-base, and WORKTREE).

    ``max_time`` counts from ``started`` (default: now; the CLI passes the process's start), so
    start-up, checkouts, setup and clean-up are inside it. ``max_runs`` is the deprecated name
    of ``max_pairs``. A candidate whose whole change is in files ``--harness base`` pins would be
    measured A/A: refused (UsageError) before anything is measured, or with
    ``harness_only="warn"`` (the CI gate) said up front and measured anyway.
    """
    started = clock() if started is None else started
    if harness not in ("base", "candidate"):
        raise UsageError(f"--harness must be 'base' or 'candidate' (got {harness!r})")
    if max_time is not None:
        check_seconds(max_time, "--max-time")
    if seed is not None:
        check_seed(seed)
    if max_pairs is not None and max_runs is not None and max_pairs != max_runs:
        raise UsageError(
            f"--max-pairs {max_pairs} and --max-runs {max_runs} disagree; pass only --max-pairs"
        )
    cap = max_pairs if max_pairs is not None else max_runs
    if cap is not None and cap < 1:
        raise UsageError(f"--max-pairs must be >= 1 (got {cap})")
    refuse_spent(max_time, started=started, clock=clock)
    progress = progress or _Silent()
    repo = loaded.repo_root
    config = loaded.config
    names = workload_names(loaded, workloads)
    base_info, cand_ref = resolve_refs(repo, base, candidate, config.base)
    seed = seed if seed is not None else config.seed
    seed = seed if seed is not None else secrets.randbits(32)
    cstore.reap_stale_comparisons(store)
    set_affinity(config.affinity)
    results: list[WorkloadComparison] = []
    status = "interrupted"
    cid: int | None = None
    cand_info = RefInfo(cand_ref, "")
    try:
        with WorktreeSession(repo) as session:
            t0 = clock()
            base_co = session.checkout("base", base_info.ref)
            cand_co = session.checkout("cand", cand_ref)
            # Removing the checkouts afterwards takes about as long as making them: kept free.
            reserve = clock() - t0
            cand_info = RefInfo(cand_ref, cand_co.sha)
            _preflight(loaded, names, base_co)
            checks = {n: harness_check(loaded, n, base_co, cand_co, harness) for n in names}
            if harness_only == "refuse":
                for name in names:
                    if checks[name].measures_nothing:
                        raise UsageError(checks[name].refusal(name))
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
            for i, name in enumerate(names):
                budget = workload_budget(
                    loaded,
                    names,
                    i,
                    max_time=max_time,
                    max_pairs=cap,
                    started=started,
                    clock=clock,
                    reserve=reserve,
                )
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
                        check=checks[name],
                        budget=budget,
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
            id=cid or 0,
            base=base_info,
            candidate=cand_info,
            seed=seed,
            threshold=config.threshold,
            alpha=config.alpha,
            harness=harness,
            workloads=tuple(results),
            elapsed=clock() - started,  # the whole command so far, clean-up included
        )
        if cid is not None:
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


@dataclass(frozen=True)
class HarnessCheck:
    """What the candidate's diff does to a workload's own files (script, data), found before
    anything is measured."""

    harness: Harness
    files: tuple[str, ...]  # the workload's files (repo-relative), from its command
    touched: tuple[str, ...]  # those the candidate changes
    changed: int  # files the candidate changes in all

    @property
    def measures_nothing(self) -> bool:
        """Every change is in files pinned to base: both sides would run the same code."""
        return self.harness == "base" and bool(self.touched) and len(self.touched) == self.changed

    def _listed(self) -> str:
        return ", ".join(self.touched[:3]) + (" ..." if len(self.touched) > 3 else "")

    def refusal(self, name: str, *, would: str = "would measure") -> str:
        return (
            f"{name}: the candidate changes only the workload's own files ({self._listed()}), "
            "and --harness base (the default) runs base's copy of them on both sides, so this "
            f"{would} identical code (an A/A run), not the change; pass --harness candidate to "
            "measure the candidate's script, or move the change into the code under test"
        )

    def notice(self, name: str) -> tuple[str, str] | None:
        """(level, line) said up front, or None when the candidate leaves the files alone."""
        if not self.touched:
            return None
        if self.measures_nothing:
            return ("warning", self.refusal(name, would="measures"))
        if self.harness == "base":
            return (
                "note",
                f"{name}: the candidate changes the workload's own files ({self._listed()}); "
                "--harness base runs base's copy of them on both sides, so that part of the "
                "change is not measured (--harness candidate measures it)",
            )
        return (
            "note",
            f"{name}: measuring with the candidate's own workload files ({self._listed()}), "
            "--harness candidate",
        )


def harness_check(
    loaded: LoadedConfig, name: str, base_co: Checkout, cand_co: Checkout, harness: Harness
) -> HarnessCheck:
    """Compare the candidate's diff with the workload's command and script paths."""
    repo = loaded.repo_root
    res = resolve_workload(
        name, loaded.workload(name), repo=repo, worktree=loaded.project_dir(base_co.path)
    )
    found = workload_files(res.argv, cwd=res.cwd, tree=base_co.path)
    if res.config.kind == "asv":  # the benchmarks live where asv.conf.json says
        from perfop.suites.asv import harness_paths

        found += [f for f in harness_paths(res.argv, res.cwd, base_co.path) if f not in found]
    files = tuple(found)
    touched = tuple(harness_touched(repo, base_co.sha, cand_co.sha, files))
    changed = 0
    if touched:
        # Plumbing (diff-tree), never porcelain `git diff`, which may refresh the user's index.
        out = git(repo, "diff-tree", "-r", "--name-only", "--no-renames", base_co.sha, cand_co.sha)
        changed = len([line for line in out.splitlines() if line])
    return HarnessCheck(harness=harness, files=files, touched=touched, changed=changed)


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
    check: HarnessCheck,
    budget: Budget,
    env_id: int,
    progress: CompareProgress,
) -> WorkloadComparison:
    wl = loaded.workload(name)
    notices: list[str] = []

    def say(level: str, text: str) -> None:
        notices.append(text)
        progress.notice(name, level, text)

    said = check.notice(name)
    if said is not None:
        say(*said)
    pinned: tuple[str, ...] = ()
    if harness == "base":
        pinned = tuple(pin_harness(check.files, base=base_co.path, candidate=cand_co.path))
    settings = {**budget.settings.to_dict(), "warmup": wl.warmup, "seed": seed, "harness": harness}
    sides = begin_sides(
        store,
        loaded,
        name,
        (("base", base_co), ("candidate", cand_co)),
        kind="compare",
        settings=settings,
        env_id=env_id,
        comparison_id=cid,
    )
    base, cand = sides
    runner = PairRunner(store, base, cand, seed, name, clock=budget.clock)
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
            harness_touched=bool(check.touched),
            touched_files=check.touched,
            pinned_files=pinned,
            harness_only=check.measures_nothing,
            gate=wl.gate,
            primary_metric=wl.primary_metric,
            elapsed=budget.elapsed(),
            base_run_id=base.run_id,
            cand_run_id=cand.run_id,
            calibrated=noise is not None,
            contention=contention,
            budget=budget.planned,
            notices=tuple(notices),
            **kw,
        )

    try:
        set_up_sides(sides)
        plan = plan_budget(runner, budget, wl.warmup)
        if plan.message:
            say(plan.level or "note", f"{name}: {plan.message}")
        seq = _sequential_pairs(runner, budget, wl, loaded, noise, progress, name)
        decision = seq.decision
        if wl.is_suite and isinstance(base.sampler, SuiteSampler):
            short = short_windows(base.sampler.spans)
            if short:
                say("note", short_window_notice(name, wl.kind, short))
        if wl.is_suite and not any(len(r.metrics) > len(BUILTIN_METRICS) for r in base.results):
            raise SideFailed("base side: the suite reported no benchmark")
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
    if runner.index == 0 and budget.exhausted():
        # The fixed costs took the whole explicit budget: nothing was measured (said up front).
        return done(
            verdict=None,
            pairs=0,
            behavior="unchecked",
            metrics=(),
            stop_reason="budget",
            failure=(budget.planned.message if budget.planned else None)
            or "max_time was spent before the first pair",
            planned_pairs=0,
            first_batch=seq.first,
        )
    # A suite prints its own timings: its output differs from run to run by design.
    checked = check_behavior(base.results, cand.results, wl.check_output and not wl.is_suite)
    behavior, diff = checked.behavior, checked.diff
    specs = metric_specs(base.results + cand.results, wl)
    kept = {
        "pairs": runner.index,
        "behavior": behavior,
        "behavior_diff": diff,
        "behavior_note": checked.note,
        "planned_pairs": seq.planned,
        "first_batch": seq.first,
    }
    if wl.primary_metric not in specs or not any(
        wl.primary_metric in r.metrics for r in base.results
    ):
        return done(
            verdict=None,
            metrics=(),
            stop_reason="failed",
            failure=f"primary metric {wl.primary_metric!r} was not reported; print "
            f"'PERFOP_METRIC {wl.primary_metric}=VALUE' or fix primary_metric",
            **kept,
        )
    z_bound = seq.design.z_bounds[seq.look]
    z_eq = seq.design.eq_bound(seq.look)
    metrics = analyse(
        base.results,
        cand.results,
        specs,
        z_bound=z_bound,
        alpha=loaded.config.alpha,
        threshold=loaded.config.threshold,
        z_eq=z_eq,
    )
    if wl.is_suite:
        suite = _decide_suite(runner, specs, seq.design.z_bounds[seq.look], loaded)
        kept_metrics = tuple(m for m in metrics if m.name in BUILTIN_METRICS)
        metrics = kept_metrics + tuple(b.metric for b in suite.benchmarks if b.metric)
        return done(
            verdict=suite.verdict,
            metrics=metrics,
            stop_reason=seq.stop_reason,
            suite=suite,
            **kept,
        )
    if decision.metric not in specs:  # e.g. no CPU time was reported: decide on the primary
        decision = Decision(metric=wl.primary_metric)
    th, al = loaded.config.threshold, loaded.config.alpha
    rule = {"z_bound": z_bound, "threshold": th, "alpha": al, "z_eq": z_eq}
    code = decision_code(base.results, cand.results, decision, **rule)
    if vetoed(base.results, cand.results, decision, **rule):
        decision = dataclasses.replace(decision, vetoed=True)
    verdict = stats.orient(code, specs[decision.metric].better)
    return done(
        verdict=verdict,
        metrics=metrics,
        stop_reason=seq.stop_reason,
        decision=decision,
        **kept,
    )


def _decide_suite(
    runner: PairRunner, specs: dict[str, Any], z_bound: float, loaded: LoadedConfig
) -> SuiteOutcome:
    base, cand = runner.sides
    wl = base.resolved.config
    failed = tuple(
        s.sampler.failed if isinstance(s.sampler, SuiteSampler) else {} for s in (base, cand)
    )
    return decide_suite(
        base.results,
        cand.results,
        specs,
        z_bound=z_bound,
        alpha=loaded.config.alpha,
        threshold=loaded.config.threshold,
        failed=(failed[0], failed[1]),
        fail_on=wl.fail_on,
        fail_if_faster=wl.fail_if_faster,
    )


def set_up_sides(sides: Sequence[Side]) -> None:
    """Run each side's ``setup``, check both commands can start, flush the checkouts to disk."""
    for side in sides:
        try:
            run_setup(side.resolved, env=side.env)
        except WorkloadError as exc:
            raise SideFailed(f"{side.label} side: {exc.message}") from None
    # After setup, which may create the program (a venv's console script). Missing at base,
    # the configured command is wrong (exit 2); missing at the candidate only, the candidate
    # broke it (e.g. deleted a script under --harness candidate): a failure of that side.
    base, cand = sides
    check_startable(base.resolved.argv, cwd=base.resolved.cwd, env=base.env)
    try:
        check_startable(cand.resolved.argv, cwd=cand.resolved.cwd, env=cand.env)
    except WorkloadError as exc:
        raise SideFailed(f"candidate side: {exc.message}") from None
    settle_disk()


@dataclass(frozen=True)
class _Sequential:
    design: stats.SequentialDesign
    look: int
    stop_reason: str
    first: int
    planned: int
    decision: Decision


def _sequential_pairs(
    runner: PairRunner,
    budget: Budget,
    wl: WorkloadConfig,
    loaded: LoadedConfig,
    noise: float | None,
    progress: CompareProgress,
    name: str,
) -> _Sequential:
    """The first batch, then looks on the group-sequential schedule, within the budget. The
    metric to decide on is chosen from the first batch and kept for every look."""
    config = loaded.config
    plan = budget.planned
    rough = max(plan.affordable if plan else 0, runner.index, 1)
    first = stats.first_batch(
        noise, min_pairs=budget.settings.min_pairs, max_pairs=rough, threshold=config.threshold
    )
    progress.workload_started(name, rough)
    run_pairs(runner, budget, first, lambda n: progress.pair_done(name, n, rough))
    base, cand = runner.sides
    decision = (  # a suite's benchmarks are decided on their own metrics
        Decision(metric=wl.primary_metric)
        if wl.is_suite
        else choose_decision(base.results, cand.results, wl.primary_metric)
    )
    # Plan the rest from the pairs just measured, then look on the geometric schedule.
    per_pair = typical_pair(runner, budget) or 0.0
    planned = budget.affordable(per_pair, runner.index) if per_pair > 0 else runner.index
    planned = max(planned, runner.index, 1)
    design = (
        suite_design(config.alpha, config.threshold, max(runner.index, 1), planned)
        if wl.is_suite
        else stats.plan(
            alpha=config.alpha,
            threshold=config.threshold,
            first=max(runner.index, 1),
            max_pairs=planned,
        )
    )
    k = 0
    stop_reason = "planned"
    while True:
        target = design.looks[k]
        run_pairs(runner, budget, target, functools.partial(_pair_done, progress, name, planned))
        if runner.index < target:  # the budget ends the plan early
            design = design.truncated(max(runner.index, 1))
            k = len(design.looks) - 1
            stop_reason = "budget"
        if wl.is_suite:
            code = _suite_code(runner, design, k, loaded)
        else:
            code = decision_code(
                base.results,
                cand.results,
                decision,
                z_bound=design.z_bounds[k],
                threshold=design.threshold,
                alpha=design.alpha,
                trim=design.trim,
                z_eq=design.eq_bound(k),
            )
        if code != stats.UNDECIDED:
            stop_reason = "decided"
            break
        if k == len(design.looks) - 1:
            break
        # Pairs that got cheaper than the first batch's would leave budget unused at the plan's
        # last look: re-plan the horizon from time alone, keeping what the past looks spent
        # (docs/statistics.md, section 4).
        afford = budget.affordable(typical_pair(runner, budget) or 0.0, runner.index)
        if afford >= design.max_pairs + max(2, math.ceil(EXTEND_MIN * design.max_pairs)):
            design = design.extended(k, afford)
            planned = afford
        k += 1
    return _Sequential(design, k, stop_reason, first, planned, decision)


def _pair_done(progress: CompareProgress, name: str, planned: int, n: int) -> None:
    progress.pair_done(name, n, planned)


# Re-plan a comparison's horizon only when the budget buys at least this many more pairs (as a
# share of the plan): each re-plan recomputes the boundaries (~0.05 s).
EXTEND_MIN = 0.10


def _suite_code(
    runner: PairRunner, design: stats.SequentialDesign, k: int, loaded: LoadedConfig
) -> int:
    """A suite is decided when every benchmark is (after BH), or none can be compared."""
    base, cand = runner.sides
    if min(len(base.results), len(cand.results)) < 3:
        return stats.UNDECIDED
    specs = metric_specs(base.results + cand.results, base.resolved.config)
    suite = _decide_suite(runner, specs, design.z_bounds[k], loaded)
    if any(b.verdict == Verdict.INCONCLUSIVE for b in suite.benchmarks):
        return stats.UNDECIDED
    return stats.EQUIVALENT  # every benchmark settled: stop (the verdicts come from the suite)


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
                "equivalence_ci": [_num(a.eq_ci_low), _num(a.eq_ci_high)],
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
        "suite": suite_document(wc.suite),
    }


def suite_document(suite: SuiteOutcome | None) -> dict[str, Any] | None:
    """A suite's per-benchmark verdicts, largest effect first (None for a command workload)."""
    if suite is None:
        return None
    rows = []
    for b in suite.benchmarks:
        a = b.metric.analysis if b.metric is not None else None
        rows.append(
            {
                "name": b.name,
                "status": b.status,
                "verdict": b.verdict.value if b.verdict is not None else None,
                "ratio": _num(a.ratio) if a else None,
                "ci": [_num(a.ci_low), _num(a.ci_high)] if a else None,
                "p_value": _num(a.p_value) if a else None,
                "pairs": a.n if a else 0,
                "reason": b.reason or None,
                "bh_downgraded": b.bh_downgraded,
                "fails_gate": b.fails_gate,
            }
        )
    return {
        "verdict": suite.verdict.value,
        "counts": suite.counts(),
        "fdr": {"method": "benjamini-hochberg", "q": suite.look_level, "level": suite.level},
        "failing": list(suite.failing),
        "benchmarks": rows,
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
                "decided_on": wc.decided_on if wc.verdict is not None else None,
                "decision": wc.decision.as_dict() if wc.decision is not None else None,
                "failure": wc.failure,
                "stop_reason": wc.stop_reason,
                "planned_pairs": wc.planned_pairs,
                "first_batch": wc.first_batch,
                "calibrated": wc.calibrated,
                "mde": wc.mde,
                "elapsed": round(wc.elapsed, 3),
                "harness_only": wc.harness_only,
                "budget": wc.budget.to_dict() if wc.budget else None,
                "notices": list(wc.notices),
                "runs": {"base": wc.base_run_id, "candidate": wc.cand_run_id},
                "metrics": _metric_rows(wc),
                "cpu_vs_wall": cpu_vs_wall_document(wc.metrics, contention=wc.contention),
                "contention": wc.contention,
                "suite": suite_document(wc.suite),
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
        "elapsed": round(result.elapsed, 3),
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
    if fail_on_regression and any(w.regressed or w.behavior == "changed" for w in gated):
        return 1
    if fail_on_inconclusive and any(w.verdict == Verdict.INCONCLUSIVE for w in gated):
        return 3
    return 0
