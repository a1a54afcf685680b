"""The one measurement pipeline of every measured comparison: plan → check out → set up → warm up →
pairs → decide → store. ``compare`` and ``calibrate`` call it (``validate`` and the CI gate call
``compare``) and differ only in the ``Job`` they pass and what they do with the ``Measured`` back.

Each stage is a small function with a typed input and output: ``check_out`` (two worktrees and the
time they took), ``budget.workload_budget`` via ``budgets`` (the plan), ``set_up_sides``,
``warm_up`` (the budget priced from one pair), ``sequential_pairs`` or ``whole_budget_pairs``,
``decide`` (the verdict and which metric it was decided on) and ``finish_runs`` (the store).
``measure_sides`` is the seam: its ``PairRunner`` samples through each side's ``Sampler`` (real
processes in production, recorded or synthetic samples in unit tests) and records through any
``pairs.Recorder``, so stopping and decision logic are tested without processes. Never prints:
notices go to the ``Progress`` observer.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from perfop import stats
from perfop.compare.behavior import Behavior, check_behavior
from perfop.compare.budget import Budget, Clock, Plan, workload_budget
from perfop.compare.pairs import (
    Decision,
    MetricResult,
    PairRunner,
    Recorder,
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
)
from perfop.compare.suites import SuiteOutcome, decide_suite, suite_design
from perfop.errors import WorkloadError
from perfop.measure.runner import check_startable, run_setup
from perfop.measure.suites import SuiteSampler, short_window_notice, short_windows
from perfop.measure.worktrees import Checkout, WorktreeSession, settle_disk
from perfop.model import BUILTIN_METRICS, RunStatus, Verdict

if TYPE_CHECKING:
    from perfop.config import LoadedConfig, PerfopConfig, WorkloadConfig
    from perfop.store import Store


class Progress(Protocol):
    """Observer of a running comparison (the CLI draws a progress bar with it)."""

    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...

    def notice(self, name: str, level: str, text: str) -> None:
        """A line to say before the pairs ("note" or "warning"): the budget plan, the harness."""


class Silent:
    def workload_started(self, name: str, planned_pairs: int) -> None: ...

    def pair_done(self, name: str, pairs: int, planned_pairs: int) -> None: ...

    def workload_finished(self, name: str) -> None: ...

    def notice(self, name: str, level: str, text: str) -> None: ...


class Notices:
    """The lines a workload says up front: kept for its documents, told to ``progress``."""

    def __init__(self, name: str, progress: Progress) -> None:
        self.name = name
        self.progress = progress
        self.lines: list[str] = []

    def say(self, level: str, text: str) -> None:
        self.lines.append(text)
        self.progress.notice(self.name, level, text)


def resolve_seed(seed: int | None, config: PerfopConfig) -> int:
    """The flag's seed, else the config's, else a fresh random one (always recorded)."""
    seed = seed if seed is not None else config.seed
    return seed if seed is not None else secrets.randbits(32)


# --- check out, plan -------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkouts:
    """Both sides' worktrees; ``reserve``: the seconds making them took (as long again as
    removing them will: the last workload's budget keeps it free)."""

    base: Checkout
    cand: Checkout
    reserve: float


def check_out(session: WorktreeSession, base: str, cand: str, clock: Clock) -> Checkouts:
    t0 = clock()
    base_co = session.checkout("base", base)
    cand_co = session.checkout("cand", cand)
    return Checkouts(base_co, cand_co, clock() - t0)


def budgets(
    loaded: LoadedConfig,
    names: Sequence[str],
    *,
    max_time: float | None,
    max_pairs: int | None,
    started: float,
    clock: Clock,
    reserve: float,
) -> Iterator[tuple[str, Budget]]:
    """Each workload's budget, made when its turn comes (``budget.workload_budget``)."""
    for i, name in enumerate(names):
        yield (
            name,
            workload_budget(
                loaded,
                names,
                i,
                max_time=max_time,
                max_pairs=max_pairs,
                started=started,
                clock=clock,
                reserve=reserve,
            ),
        )


# --- what a caller measures, and what it gets back --------------------------------------------


@dataclass(frozen=True)
class Job:
    """One workload to measure on both sides, and how its pairs stop.

    ``stopping``: "sequential" (compare: looks on the group-sequential schedule, then a
    verdict) or "budget" (calibrate: A/A for the whole budget, nothing decided).
    ``start_errors``: what a ``WorkloadError`` while measuring is (a command that cannot start):
    "raise" (compare: a configuration error) or "fail" (calibrate: that workload's failure).
    ``keep_specs``: the finished runs record their metrics' units and directions.
    """

    name: str
    kind: str  # the stored runs' kind: "compare" | "calibrate"
    settings: Mapping[str, Any]
    seed: int
    env_id: int
    stopping: Literal["sequential", "budget"] = "sequential"
    comparison_id: int | None = None
    ref: str | None = None  # a calibration's one ref, stored on both runs
    noise: float | None = None  # a calibration's per-pair spread: sizes the first batch
    start_errors: Literal["raise", "fail"] = "raise"
    keep_specs: bool = True


@dataclass(frozen=True)
class Decided:
    """What the pairs decided for one workload (``verdict`` None: a side failed, or nothing)."""

    verdict: Verdict | None
    pairs: int
    behavior: Behavior
    metrics: tuple[MetricResult, ...]
    stop_reason: str  # decided | budget (time) | planned (pairs) | failed
    planned_pairs: int
    first_batch: int
    failure: str | None = None
    behavior_diff: str = ""
    behavior_note: str = ""
    suite: SuiteOutcome | None = None
    decision: Decision | None = None

    def fields(self) -> dict[str, Any]:
        """The fields by name (shallow: nested records stay records)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Measured:
    """The pipeline's result for one workload: the decision, and what was spent on it."""

    decided: Decided
    sides: tuple[Side, Side]
    contention: dict[str, Any] | None
    budget: Plan | None
    notices: tuple[str, ...]
    pair_cost: float | None  # the median measured pair (``pairs.typical_pair``)
    elapsed: float

    @property
    def base(self) -> Side:
        return self.sides[0]

    @property
    def cand(self) -> Side:
        return self.sides[1]


def failed(pairs: int, message: str) -> Decided:
    return Decided(
        verdict=None,
        pairs=pairs,
        behavior="unchecked",
        metrics=(),
        stop_reason="failed",
        failure=message,
        planned_pairs=0,
        first_batch=0,
    )


# --- the pipeline ----------------------------------------------------------------------------


def measure_workload(
    store: Store,
    loaded: LoadedConfig,
    checkouts: Checkouts,
    job: Job,
    budget: Budget,
    *,
    progress: Progress,
    notices: Notices,
) -> Measured:
    """Begin one stored run per side, then ``measure_sides`` with the workload's own samplers."""
    sides = begin_sides(
        store,
        loaded,
        job.name,
        (("base", checkouts.base), ("candidate", checkouts.cand)),
        kind=job.kind,
        settings=job.settings,
        env_id=job.env_id,
        comparison_id=job.comparison_id,
        ref=job.ref,
    )
    runner = PairRunner(store, sides[0], sides[1], job.seed, job.name, clock=budget.clock)
    return measure_sides(runner, store, loaded, job, budget, progress=progress, notices=notices)


def measure_sides(
    runner: PairRunner,
    recorder: Recorder,
    loaded: LoadedConfig,
    job: Job,
    budget: Budget,
    *,
    progress: Progress,
    notices: Notices,
) -> Measured:
    """Set up → warm up → pairs → decide → finish both runs, on ``runner``'s samplers."""
    wl = loaded.workload(job.name)
    errors: tuple[type[Exception], ...] = (
        (SideFailed, WorkloadError) if job.start_errors == "fail" else (SideFailed,)
    )
    seq: Sequential | None = None
    outcome: Decided | None = None
    try:
        set_up_sides(runner.sides)
        warm_up(runner, budget, wl.warmup, notices)
        if job.stopping == "budget":
            whole_budget_pairs(runner, budget, progress, job.name)
        else:
            seq = sequential_pairs(runner, budget, wl, loaded, job.noise, progress, job.name)
            suite_checks(runner, wl, notices)
    except errors as exc:
        outcome = failed(runner.index, getattr(exc, "message", str(exc)))
    except BaseException:  # Ctrl-C, SIGTERM: both runs end as interrupted, then propagate
        for side in runner.sides:
            recorder.finish_run(side.run_id, RunStatus.INTERRUPTED)
        raise
    if outcome is None and seq is not None:
        outcome = decide(runner, budget, seq, wl, loaded.config)
    elif outcome is None:
        outcome = unjudged(runner)
    contention = finish_runs(recorder, runner, wl, outcome, keep_specs=job.keep_specs)
    progress.workload_finished(job.name)
    return Measured(
        decided=outcome,
        sides=runner.sides,
        contention=contention,
        budget=budget.planned,
        notices=tuple(notices.lines),
        pair_cost=typical_pair(runner, budget),
        elapsed=budget.elapsed(),
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


def warm_up(runner: PairRunner, budget: Budget, warmup: int, notices: Notices) -> Plan:
    """Warm up and price the budget from one pair (``pairs.plan_budget``); say the plan's line."""
    plan = plan_budget(runner, budget, warmup)
    if plan.message:
        notices.say(plan.level or "note", f"{notices.name}: {plan.message}")
    return plan


def whole_budget_pairs(runner: PairRunner, budget: Budget, progress: Progress, name: str) -> None:
    """A/A for the whole budget (a calibration): no look stops it early."""
    plan = budget.planned
    total = max(plan.affordable if plan else 0, runner.index, 1)
    progress.workload_started(name, total)
    run_pairs(
        runner,
        budget,
        budget.settings.max_pairs or 10**9,
        functools.partial(_pair_done, progress, name, total),
    )


def finish_runs(
    recorder: Recorder,
    runner: PairRunner,
    wl: WorkloadConfig,
    outcome: Decided,
    *,
    keep_specs: bool,
) -> dict[str, Any] | None:
    """Both runs end complete (or failed), with the contention over the pairs; returns it."""
    base, cand = runner.sides
    specs = metric_specs(base.results + cand.results, wl) if keep_specs else None
    contention = runner.contention.summary()
    status = RunStatus.FAILED if outcome.failure is not None else RunStatus.COMPLETE
    for side in runner.sides:
        recorder.finish_run(side.run_id, status, specs, contention=contention)
    return contention


# --- pairs: the sequential looks ---------------------------------------------------------------


@dataclass(frozen=True)
class Sequential:
    design: stats.SequentialDesign
    look: int
    stop_reason: str
    first: int
    planned: int
    decision: Decision


# Re-plan a comparison's horizon only when the budget buys at least this many more pairs (as a
# share of the plan): each re-plan computes the boundaries of the looks after the current one.
EXTEND_MIN = 0.10


def sequential_pairs(
    runner: PairRunner,
    budget: Budget,
    wl: WorkloadConfig,
    loaded: LoadedConfig,
    noise: float | None,
    progress: Progress,
    name: str,
) -> Sequential:
    """The first batch, then looks on the group-sequential schedule, within the budget. The
    metric to decide on is chosen from the first batch and kept for every look."""
    config = loaded.config
    first = _first_batch(runner, budget, noise, config.threshold, progress, name)
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
    stats.load_special()  # a one-time cost, not what a truncation costs
    design = _design(wl, config, max(runner.index, 1), planned)
    budget.price_replan(_truncation_cost(design, budget))
    k = 0
    stop_reason = "planned"
    while True:
        target = design.looks[k]
        run_pairs(runner, budget, target, functools.partial(_pair_done, progress, name, planned))
        if runner.index < target:  # the budget ends the plan early
            planning = budget.clock()
            design = design.truncated(max(runner.index, 1))
            budget.price_replan(budget.clock() - planning)
            k = len(design.looks) - 1
            stop_reason = "budget"
        looked = budget.clock()
        code = _look(runner, design, k, decision, wl, config)
        budget.price_look(budget.clock() - looked)
        if code != stats.UNDECIDED:
            stop_reason = "decided"
            break
        if k == len(design.looks) - 1:
            break
        design, planned = _replan(design, k, runner, budget, planned)
        k += 1
    return Sequential(design, k, stop_reason, first, planned, decision)


def _replan(
    design: stats.SequentialDesign, k: int, runner: PairRunner, budget: Budget, planned: int
) -> tuple[stats.SequentialDesign, int]:
    """The plan after look ``k`` (undecided): pairs that got cheaper than the first batch's
    would leave budget unused at the plan's last look, so the horizon is re-planned from time
    alone, keeping what the past looks spent (docs/statistics.md, section 4). It runs
    between pairs, so the next pair's deadline check sees what it took; truncating the new
    plan costs what truncating the old one did (one boundary), so the reserve stands."""
    afford = budget.affordable(typical_pair(runner, budget) or 0.0, runner.index)
    if afford < design.max_pairs + max(2, math.ceil(EXTEND_MIN * design.max_pairs)):
        return design, planned
    return design.extended(k, afford), afford


def _truncation_cost(design: stats.SequentialDesign, budget: Budget) -> float:
    """What truncating ``design`` after the last pair costs, timed on a trial truncation: the
    deadline keeps it free (``Budget.price_replan``). Only the truncated plan's last boundary
    is computed (the looks before it reuse the plan's regions), whichever pair ends it."""
    started = budget.clock()
    design.truncated(max(design.max_pairs - 1, 1))
    return budget.clock() - started


def _first_batch(
    runner: PairRunner,
    budget: Budget,
    noise: float | None,
    threshold: float,
    progress: Progress,
    name: str,
) -> int:
    """Measure the first batch (sized from the calibrated noise); returns its planned size."""
    plan = budget.planned
    rough = max(plan.affordable if plan else 0, runner.index, 1)
    first = stats.first_batch(
        noise, min_pairs=budget.settings.min_pairs, max_pairs=rough, threshold=threshold
    )
    progress.workload_started(name, rough)
    run_pairs(runner, budget, first, lambda n: progress.pair_done(name, n, rough))
    return first


def _design(
    wl: WorkloadConfig, config: PerfopConfig, first: int, planned: int
) -> stats.SequentialDesign:
    if wl.is_suite:
        return suite_design(config.alpha, config.threshold, first, planned)
    return stats.plan(
        alpha=config.alpha, threshold=config.threshold, first=first, max_pairs=planned
    )


def _look(
    runner: PairRunner,
    design: stats.SequentialDesign,
    k: int,
    decision: Decision,
    wl: WorkloadConfig,
    config: PerfopConfig,
) -> int:
    """The decision code at look ``k`` (``stats.UNDECIDED``: measure on)."""
    if wl.is_suite:
        return _suite_code(runner, design, k, config)
    base, cand = runner.sides
    return decision_code(
        base.results,
        cand.results,
        decision,
        z_bound=design.z_bounds[k],
        threshold=design.threshold,
        alpha=design.alpha,
        trim=design.trim,
        z_eq=design.eq_bound(k),
    )


def _pair_done(progress: Progress, name: str, planned: int, n: int) -> None:
    progress.pair_done(name, n, planned)


def suite_checks(runner: PairRunner, wl: WorkloadConfig, notices: Notices) -> None:
    """A suite whose benchmarks' timed windows were short is said; one that reported no
    benchmark at base is that side's failure."""
    if not wl.is_suite:
        return
    base = runner.sides[0]
    if isinstance(base.sampler, SuiteSampler):
        short = short_windows(base.sampler.spans)
        if short:
            notices.say("note", short_window_notice(notices.name, wl.kind, short))
    if not any(len(r.metrics) > len(BUILTIN_METRICS) for r in base.results):
        raise SideFailed("base side: the suite reported no benchmark")


def _suite_code(
    runner: PairRunner, design: stats.SequentialDesign, k: int, config: PerfopConfig
) -> int:
    """A suite is decided when every benchmark is (after BH), or none can be compared."""
    base, cand = runner.sides
    if min(len(base.results), len(cand.results)) < 3:
        return stats.UNDECIDED
    specs = metric_specs(base.results + cand.results, base.resolved.config)
    suite = decide_suite_of(runner, specs, design.z_bounds[k], config)
    if any(b.verdict == Verdict.INCONCLUSIVE for b in suite.benchmarks):
        return stats.UNDECIDED
    return stats.EQUIVALENT  # every benchmark settled: stop (the verdicts come from the suite)


def decide_suite_of(
    runner: PairRunner, specs: dict[str, Any], z_bound: float, config: PerfopConfig
) -> SuiteOutcome:
    base, cand = runner.sides
    wl = base.resolved.config
    failures = tuple(
        s.sampler.failed if isinstance(s.sampler, SuiteSampler) else {} for s in (base, cand)
    )
    return decide_suite(
        base.results,
        cand.results,
        specs,
        z_bound=z_bound,
        alpha=config.alpha,
        threshold=config.threshold,
        failed=(failures[0], failures[1]),
        fail_on=wl.fail_on,
        fail_if_faster=wl.fail_if_faster,
    )


# --- decide ----------------------------------------------------------------------------------


def unjudged(runner: PairRunner) -> Decided:
    """The pairs of a run that decides nothing (a calibration): counted, not judged."""
    return Decided(
        verdict=None,
        pairs=runner.index,
        behavior="unchecked",
        metrics=(),
        stop_reason="budget",
        planned_pairs=runner.index,
        first_batch=0,
    )


def decide(
    runner: PairRunner,
    budget: Budget,
    seq: Sequential,
    wl: WorkloadConfig,
    config: PerfopConfig,
) -> Decided:
    """The verdict after the last look: behaviour checked, every metric analysed, the deciding
    metric's rule applied (with wall time's veto), or a suite's per-benchmark verdicts."""
    if runner.index == 0 and budget.exhausted():
        # The fixed costs took the whole explicit budget: nothing was measured (said up front).
        return Decided(
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
    base, cand = runner.sides
    # A suite prints its own timings: its output differs from run to run by design.
    checked = check_behavior(base.results, cand.results, wl.check_output and not wl.is_suite)
    specs = metric_specs(base.results + cand.results, wl)
    kept: dict[str, Any] = {
        "pairs": runner.index,
        "behavior": checked.behavior,
        "behavior_diff": checked.diff,
        "behavior_note": checked.note,
        "planned_pairs": seq.planned,
        "first_batch": seq.first,
    }
    if wl.primary_metric not in specs or not any(
        wl.primary_metric in r.metrics for r in base.results
    ):
        return Decided(
            verdict=None,
            metrics=(),
            stop_reason="failed",
            failure=f"primary metric {wl.primary_metric!r} was not reported; print "
            f"'PERFOP_METRIC {wl.primary_metric}=VALUE' or fix primary_metric",
            **kept,
        )
    rule = _Rule.at(seq, config)
    metrics = analyse(
        base.results,
        cand.results,
        specs,
        z_bound=rule.z_bound,
        alpha=rule.alpha,
        threshold=rule.threshold,
        z_eq=rule.z_eq,
    )
    if wl.is_suite:
        suite = decide_suite_of(runner, specs, rule.z_bound, config)
        kept_metrics = tuple(m for m in metrics if m.name in BUILTIN_METRICS)
        metrics = kept_metrics + tuple(b.metric for b in suite.benchmarks if b.metric)
        return Decided(
            verdict=suite.verdict,
            metrics=metrics,
            stop_reason=seq.stop_reason,
            suite=suite,
            **kept,
        )
    decision, verdict = decide_metric(runner.sides, seq.decision, specs, wl, rule)
    return Decided(
        verdict=verdict, metrics=metrics, stop_reason=seq.stop_reason, decision=decision, **kept
    )


@dataclass(frozen=True)
class _Rule:
    """The stopping rule's boundaries at the final look."""

    z_bound: float
    z_eq: float | None
    threshold: float
    alpha: float

    @classmethod
    def at(cls, seq: Sequential, config: PerfopConfig) -> _Rule:
        return cls(
            z_bound=seq.design.z_bounds[seq.look],
            z_eq=seq.design.eq_bound(seq.look),
            threshold=config.threshold,
            alpha=config.alpha,
        )

    def kwargs(self) -> dict[str, Any]:
        return {
            "z_bound": self.z_bound,
            "threshold": self.threshold,
            "alpha": self.alpha,
            "z_eq": self.z_eq,
        }


def decide_metric(
    sides: tuple[Side, Side],
    decision: Decision,
    specs: Mapping[str, Any],
    wl: WorkloadConfig,
    rule: _Rule,
) -> tuple[Decision, Verdict]:
    """The deciding metric's verdict (CPU time checked by wall time: a veto is recorded)."""
    base, cand = sides
    if decision.metric not in specs:  # e.g. no CPU time was reported: decide on the primary
        decision = Decision(metric=wl.primary_metric)
    code = decision_code(base.results, cand.results, decision, **rule.kwargs())
    if vetoed(base.results, cand.results, decision, **rule.kwargs()):
        decision = dataclasses.replace(decision, vetoed=True)
    return decision, stats.orient(code, specs[decision.metric].better)
