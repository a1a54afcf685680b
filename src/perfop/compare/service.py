"""A/B comparison of two git refs: interleaved pairs in isolated worktrees, adaptive stopping.

``compare`` checks both refs out into disposable worktrees (``worktrees.py``), refuses a candidate
whose whole change is in the workload's own files (pinned to BASE, it would be an A/A run), pins
those files, then hands each workload to the one measurement pipeline (``pipeline.py``: set up,
warm up, plan the budget, pairs until the group-sequential rule in ``stats.py`` settles a verdict
or the budget is spent, decide; its A/A twin is ``calibrate.py``). A CPU-bound workload is decided
on CPU time, checked by wall time (``pairs.choose_decision``, docs/statistics.md section 3d).
Stores everything, never prints: notices go to the observer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from perfop import __version__
from perfop.compare.behavior import Behavior
from perfop.compare.budget import Budget, Clock, Plan, refuse_spent
from perfop.compare.cpuwall import cpu_vs_wall_document
from perfop.compare.pairs import Decision, MetricResult, workload_names
from perfop.compare.pipeline import (
    Checkouts,
    Job,
    Notices,
    Progress,
    Silent,
    budgets,
    check_out,
    measure_workload,
    resolve_seed,
    sequential_pairs,
)
from perfop.compare.suites import SuiteOutcome
from perfop.config import LoadedConfig, check_seconds, check_seed, resolve_workload
from perfop.environment import capture_environment
from perfop.errors import UsageError, WorkloadError
from perfop.measure.contention import merge as merge_contention
from perfop.measure.runner import check_startable, set_affinity, workload_env
from perfop.measure.worktrees import (
    WORKTREE,
    Checkout,
    WorktreeSession,
    default_base,
    git,
    harness_touched,
    pin_harness,
    resolve_ref,
    workload_files,
)
from perfop.model import Verdict
from perfop.records.comparison import metric_row
from perfop.stats import pairs_to_decide
from perfop.store import Store
from perfop.store import compare as cstore

# 2: "contention", workloads' "cpu_vs_wall"; then, additively (a reader of 2 ignores them),
# workloads' "decided_on" and "decision": the metric a verdict was decided on (cpu_time for a
# CPU-bound workload, checked by wall_time) and why. Absent: decided on "primary_metric".
COMPARISON_SCHEMA = "perfop.comparison/2"
Harness = Literal["base", "candidate"]


# The observer of a running comparison; ``_Silent``: the one that ignores it.
CompareProgress = Progress
_Silent = Silent
# The pair loop of a comparison (tests/unit/test_sequential_replan.py drives it).
_sequential_pairs = sequential_pairs


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
    contention: dict[str, Any] | None = None  # perfop.measure.contention summary over the pairs
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


def to_decide(wc: WorkloadComparison, threshold: float) -> dict[str, Any] | None:
    """For an ``inconclusive`` workload: the pairs (and, from the planner's pair cost, the
    ``--max-time``) a verdict would take at the noise measured, with 80% probability:
    ``unchanged`` when the estimate lies within the threshold, else a verdict on a change of
    the estimate's size (``stats.pairs_to_decide``). None otherwise, or when more pairs would not
    help (the verdict was held back by a check, not by the sample size)."""
    p = wc.primary
    if wc.verdict is not Verdict.INCONCLUSIVE or wc.suite is not None or p is None:
        return None
    got = pairs_to_decide(p.analysis, threshold)
    if got is None or got[1] <= wc.pairs:
        return None
    kind, pairs = got
    seconds = None
    if wc.budget is not None and wc.budget.pair_cost:
        seconds = round(wc.budget.spent + pairs * wc.budget.pair_cost + wc.budget.reserve, 1)
    return {"verdict": kind, "pairs": pairs, "seconds": seconds}


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
    cap = _check_options(harness, max_time, seed, max_pairs, max_runs)
    refuse_spent(max_time, started=started, clock=clock)
    names = workload_names(loaded, workloads)
    base_info, cand_ref = resolve_refs(loaded.repo_root, base, candidate, loaded.config.base)
    run = _Comparison(
        store,
        loaded,
        names,
        base=base_info,
        candidate=RefInfo(cand_ref, ""),
        seed=resolve_seed(seed, loaded.config),
        harness=harness,
        progress=progress or Silent(),
    )
    cstore.reap_stale_comparisons(store)
    set_affinity(loaded.config.affinity)
    try:
        with WorktreeSession(loaded.repo_root) as session:
            checkouts = check_out(session, base_info.ref, cand_ref, clock)
            run.measure(
                checkouts,
                harness_only,
                budgets(
                    loaded,
                    names,
                    max_time=max_time,
                    max_pairs=cap,
                    started=started,
                    clock=clock,
                    reserve=checkouts.reserve,
                ),
            )
    finally:
        result = run.finish(clock() - started)  # the whole command so far, clean-up included
    return result


def _check_options(
    harness: str,
    max_time: float | None,
    seed: int | None,
    max_pairs: int | None,
    max_runs: int | None,
) -> int | None:
    """Bad flags fail before anything is created; returns the pair cap."""
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
    return cap


class _Comparison:
    """One comparison being measured: the stored record, and the workloads' results so far."""

    def __init__(
        self,
        store: Store,
        loaded: LoadedConfig,
        names: Sequence[str],
        *,
        base: RefInfo,
        candidate: RefInfo,
        seed: int,
        harness: Harness,
        progress: CompareProgress,
    ) -> None:
        self.store, self.loaded, self.names = store, loaded, names
        self.base, self.candidate = base, candidate
        self.seed, self.harness, self.progress = seed, harness, progress
        self.results: list[WorkloadComparison] = []
        self.status = "interrupted"
        self.cid: int | None = None

    def measure(
        self,
        checkouts: Checkouts,
        harness_only: Literal["refuse", "warn"],
        budgets: Iterable[tuple[str, Budget]],
    ) -> None:
        """Check the harness, begin the stored comparison, then measure each workload in turn."""
        loaded, store = self.loaded, self.store
        self.candidate = RefInfo(self.candidate.ref, checkouts.cand.sha)
        _preflight(loaded, self.names, checkouts.base)
        checks = {
            n: harness_check(loaded, n, checkouts.base, checkouts.cand, self.harness)
            for n in self.names
        }
        if harness_only == "refuse":
            for name in self.names:
                if checks[name].measures_nothing:
                    raise UsageError(checks[name].refusal(name))
        env_id = store.add_environment(capture_environment(loaded.repo_root))
        self.cid = cstore.begin_comparison(
            store,
            base_ref=self.base.ref,
            base_sha=self.base.sha,
            cand_ref=self.candidate.ref,
            cand_sha=self.candidate.sha,
            seed=self.seed,
            threshold=loaded.config.threshold,
            alpha=loaded.config.alpha,
            harness=self.harness,
            environment_id=env_id,
        )
        for name, budget in budgets:
            try:
                wc = _compare_workload(
                    store,
                    loaded,
                    name,
                    checkouts,
                    cid=self.cid,
                    seed=self.seed,
                    harness=self.harness,
                    check=checks[name],
                    budget=budget,
                    env_id=env_id,
                    progress=self.progress,
                )
            except WorkloadError as exc:
                raise exc.naming(name, loaded.source) from None
            cstore.add_workload_result(store, self.cid, _workload_row(wc), _metric_rows(wc))
            self.results.append(wc)
        self.status = "complete"

    def finish(self, elapsed: float) -> ComparisonResult:
        """The result so far; the stored comparison ends with its document (and its status)."""
        config = self.loaded.config
        result = ComparisonResult(
            id=self.cid or 0,
            base=self.base,
            candidate=self.candidate,
            seed=self.seed,
            threshold=config.threshold,
            alpha=config.alpha,
            harness=self.harness,
            workloads=tuple(self.results),
            elapsed=elapsed,
        )
        if self.cid is not None:
            cstore.finish_comparison(
                self.store,
                self.cid,
                self.status,
                comparison_document(result),
                contention=result.contention,
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
        from perfop.measure.suites.asv import harness_paths

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
    checkouts: Checkouts,
    *,
    cid: int,
    seed: int,
    harness: Harness,
    check: HarnessCheck,
    budget: Budget,
    env_id: int,
    progress: CompareProgress,
) -> WorkloadComparison:
    """One workload through the pipeline, with the harness said and pinned first."""
    wl = loaded.workload(name)
    notices = Notices(name, progress)
    said = check.notice(name)
    if said is not None:
        notices.say(*said)
    pinned: tuple[str, ...] = ()
    if harness == "base":
        pinned = tuple(
            pin_harness(check.files, base=checkouts.base.path, candidate=checkouts.cand.path)
        )
    calibration = cstore.latest_calibration(store, name)
    job = Job(
        name=name,
        kind="compare",
        settings={
            **budget.settings.to_dict(),
            "warmup": wl.warmup,
            "seed": seed,
            "harness": harness,
        },
        seed=seed,
        env_id=env_id,
        comparison_id=cid,
        noise=calibration.get("noise_sd") if calibration else None,
    )
    measured = measure_workload(
        store, loaded, checkouts, job, budget, progress=progress, notices=notices
    )
    return WorkloadComparison(
        name=name,
        harness=harness,
        harness_touched=bool(check.touched),
        touched_files=check.touched,
        pinned_files=pinned,
        harness_only=check.measures_nothing,
        gate=wl.gate,
        primary_metric=wl.primary_metric,
        elapsed=measured.elapsed,
        base_run_id=measured.base.run_id,
        cand_run_id=measured.cand.run_id,
        calibrated=job.noise is not None,
        contention=measured.contention,
        budget=measured.budget,
        notices=measured.notices,
        **measured.decided.fields(),
    )


# --- documents -------------------------------------------------------------------------------


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _metric_rows(wc: WorkloadComparison) -> list[dict[str, Any]]:
    return [metric_row(m) for m in wc.metrics]


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
                "to_decide": to_decide(wc, result.threshold),
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
