"""The interleaved pair loop shared by ``compare`` and ``calibrate``, and the per-metric analysis.

A ``PairRunner`` runs one base and one candidate process per pair, in an order drawn per pair from
a seeded generator, storing every result; a failed process raises ``SideFailed`` naming the side.
``plan_budget`` and ``run_pairs`` drive any ``PairSource`` within a ``budget.Budget``.
``analyse`` turns both sides' results into ``MetricResult`` rows with ``stats.compare_metric``;
``choose_decision`` picks the metric a verdict is decided on (CPU time for a CPU-bound workload,
checked by wall time) and ``decision_code`` applies it at a look.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from perfop import stats
from perfop.config import LoadedConfig, ResolvedWorkload, WorkloadConfig
from perfop.environment import redact_text
from perfop.errors import UsageError
from perfop.measure.contention import Monitor
from perfop.measure.suites import ProcessSampler, Sampler, sampler_for
from perfop.measure.worktrees import Checkout
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult, RunStatus
from perfop.records.comparison import MetricResult as MetricResult
from perfop.store import Store

if TYPE_CHECKING:
    from perfop.compare.budget import Budget, Plan


@dataclass
class Side:
    label: str  # "base" | "candidate"
    checkout: Checkout
    resolved: ResolvedWorkload
    env: dict[str, str]
    run_id: int
    results: list[ProcessResult] = field(default_factory=list)
    sampler: Sampler = field(default_factory=ProcessSampler)  # a suite's reads its results


def begin_sides(
    store: Store,
    loaded: LoadedConfig,
    name: str,
    checkouts: Sequence[tuple[str, Checkout]],
    *,
    kind: str,
    settings: Mapping[str, Any],
    env_id: int,
    comparison_id: int | None = None,
    ref: str | None = None,
) -> list[Side]:
    """Resolve the workload in each checkout and begin one stored run per side. ``ref`` (a
    calibration's one ref) overrides each checkout's own; a WORKTREE checkout is marked dirty."""
    from perfop.config import resolve_workload
    from perfop.measure.runner import workload_env
    from perfop.measure.worktrees import WORKTREE

    wl = loaded.workload(name)
    sides = []
    for label, co in checkouts:
        res = resolve_workload(
            name, wl, repo=loaded.repo_root, worktree=loaded.project_dir(co.path)
        )
        run_id = store.begin_run(
            workload=name,
            argv=res.argv,
            kind=kind,
            cwd=str(res.cwd),
            env=res.env,
            ref=ref if ref is not None else co.ref,
            sha=co.sha,
            dirty=co.ref == WORKTREE if ref is None else None,
            settings=settings,
            environment_id=env_id,
            comparison_id=comparison_id,
            side=label,
        )
        sides.append(
            Side(
                label,
                co,
                res,
                workload_env(res.env),
                run_id,
                sampler=sampler_for(wl.kind, wl.run_value, wl.check_output_bytes),
            )
        )
    return sides


class SideFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def failure_text(side: str, result: ProcessResult) -> str:
    tail = [ln for ln in result.stderr_tail.strip().splitlines() if ln.strip()][-1:] or [""]
    text = f"{side} side failed: {result.describe_failure()}"
    if tail[0]:
        text += f": {redact_text(tail[0])[:200]}"
    return text


class Recorder(Protocol):
    """Where the pair loop stores what it measured: the ``Store`` in production, a list in unit
    tests."""

    def add_result(self, run_id: int, index: int, result: ProcessResult) -> None: ...

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        metric_specs: Mapping[str, MetricSpec] | None = None,
        *,
        contention: Mapping[str, Any] | None = None,
    ) -> None: ...


class PairRunner:
    """Runs pairs of (base, candidate) processes in a seeded random order per pair.

    Warm-up rounds are pairs too, through the same path, so the first measured pair follows
    exactly what every later pair follows. Both results of a pair are stored after the pair,
    so the two runs of a pair are back to back and differ only in their position.
    """

    def __init__(
        self,
        store: Recorder,
        base: Side,
        cand: Side,
        seed: int,
        name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.clock = clock
        self.sides = (base, cand)
        key = zlib.crc32(name.encode())
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, key]))
        self._warm_rng = np.random.default_rng(np.random.SeedSequence([seed, key, 1]))
        self.index = 0
        self.pair_walls: list[float] = []
        self.contention = Monitor()  # /proc read between pairs, not inside one

    def _both(self, rng: np.random.Generator) -> list[tuple[Side, ProcessResult]]:
        order = self.sides[::-1] if rng.random() < 0.5 else self.sides
        done = []
        for side in order:
            r = side.resolved
            result = side.sampler.run(r.argv, cwd=r.cwd, env=side.env, timeout=r.timeout)
            done.append((side, result))
            if not result.ok:
                break
        return done

    def warm_up(self, rounds: int) -> float | None:
        """Run ``rounds`` unrecorded pairs; returns the wall time of the last one, if any."""
        cost = None
        for _ in range(rounds):
            t0 = self.clock()
            for side, result in self._both(self._warm_rng):
                if not result.ok:
                    raise SideFailed(failure_text(side.label, result))
            cost = self.clock() - t0
        return cost

    def pair(self) -> None:
        self.contention.start()
        t0 = self.clock()
        done = self._both(self.rng)
        self.contention.add(sum(r.user_time + r.sys_time for _, r in done))
        for side, result in done:
            self.store.add_result(side.run_id, self.index, result)
        # What the pair costs the budget: both runs and storing them (the budget's deadline is
        # checked against this, so the store's writes are not a hidden overrun).
        self.pair_walls.append(self.clock() - t0)
        for side, result in done:
            if not result.ok:
                raise SideFailed(failure_text(side.label, result))
            side.results.append(result)
        self.index += 1


class PairSource(Protocol):
    """The seam between the pair loop and processes: ``PairRunner`` in production, a recorded
    or synthetic twin in unit tests."""

    index: int
    pair_walls: list[float]

    def warm_up(self, rounds: int) -> float | None: ...

    def pair(self) -> None: ...


def plan_budget(runner: PairSource, budget: Budget, warmup: int) -> Plan:
    """Warm up, then plan the budget from what a pair cost. Without warm-up rounds the first
    measured pair prices the rest. An explicit budget already spent (slow start-up or setup)
    skips the warm-up and every pair (``Budget.exhausted``): the command ends within it."""
    if budget.exhausted():
        warmup = 0
    cost = runner.warm_up(warmup)
    if cost is None and budget.allows(runner.index, None):
        runner.pair()
        cost = runner.pair_walls[-1]
    return budget.plan(cost, runner.index)


def typical_pair(runner: PairSource, budget: Budget) -> float | None:
    """The median measured pair (a slow first pair or a cold warm-up does not shrink a plan)."""
    if runner.pair_walls:
        return float(np.median(runner.pair_walls))
    return budget.planned.pair_cost if budget.planned is not None else None


SLOW_PAIR_QUANTILE = 0.9


def slow_pair(runner: PairSource, budget: Budget) -> float | None:
    """The pair the deadline is checked against: the 90th percentile of the measured pairs, so
    the next one, slower than the median one pair in two, still ends before the deadline (with
    the median, 5 of 20 budget-bound comparisons of the 10 s detection set-up overran it)."""
    if runner.pair_walls:
        return float(np.quantile(runner.pair_walls, SLOW_PAIR_QUANTILE))
    return budget.planned.pair_cost if budget.planned is not None else None


def run_pairs(
    runner: PairSource,
    budget: Budget,
    target: int,
    on_pair: Callable[[int], None] | None = None,
) -> bool:
    """Measure pairs up to ``target`` while the budget allows each one (a slow one ending
    before the deadline); True when reached."""
    while runner.index < target:
        if not budget.allows(runner.index, slow_pair(runner, budget)):
            return False
        runner.pair()
        if on_pair is not None:
            on_pair(runner.index)
    return True


def metric_values(results: Sequence[ProcessResult], metric: str) -> list[float]:
    return [r.metrics.get(metric, math.nan) for r in results]


def metric_specs(results: Sequence[ProcessResult], wl: WorkloadConfig) -> dict[str, MetricSpec]:
    specs = {n: MetricSpec(n, u, b) for n, (u, b) in BUILTIN_METRICS.items()}
    for r in results:
        for name, spec in r.metric_specs.items():
            specs.setdefault(name, spec)
    if wl.metrics:
        # cpu_time always: compare shows the CPU-time ratio beside the wall-time one.
        keep = [*wl.metrics, wl.primary_metric, "cpu_time"]
        specs = {n: s for n, s in specs.items() if n in keep}
    return specs


def analyse(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    specs: dict[str, MetricSpec],
    *,
    z_bound: float,
    alpha: float,
    threshold: float,
    z_eq: float | None = None,
) -> tuple[MetricResult, ...]:
    out = []
    for name, spec in specs.items():
        b, c = metric_values(base, name), metric_values(cand, name)
        analysis = stats.compare_metric(
            b, c, z_bound=z_bound, alpha=alpha, threshold=threshold, better=spec.better, z_eq=z_eq
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


def workload_names(loaded: LoadedConfig, names: Sequence[str]) -> list[str]:
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


# --- the metric a verdict is decided on --------------------------------------------------------

WALL, CPU = "wall_time", "cpu_time"


@dataclass(frozen=True)
class Decision:
    """Which metric decides a workload's verdict, and why (docs/statistics.md, section 3d).

    ``metric`` is the configured primary metric, or ``cpu_time`` when the primary metric is
    ``wall_time`` and the first batch showed a CPU-bound workload on both sides; then
    ``check`` is ``wall_time``, whose interval must overlap CPU time's for a verdict to stand.
    ``cpu_share``/``cpu_median``: (base, candidate) largest and median cpu/wall of the runs.
    ``vetoed``: set on the final decision when wall time contradicted CPU time's verdict.
    """

    metric: str
    check: str | None = None
    cpu_share: tuple[float, float] | None = None
    cpu_median: tuple[float, float] | None = None
    vetoed: bool = False

    @property
    def reason(self) -> str:
        if self.cpu_share is None:
            return f"{self.metric} is the primary metric"
        shares = "/".join(f"{s:.2f}" for s in self.cpu_share)
        medians = "/".join(f"{m:.2f}" for m in self.cpu_median or ())
        if self.metric == CPU:
            return (
                f"CPU-bound: best run's cpu/wall {shares} (base/candidate) >= "
                f"{stats.CPU_BOUND_SHARE:.2f}, median {medians} <= "
                f"{stats.CPU_PARALLEL_SHARE:.2f}; wall time's interval must overlap CPU time's"
            )
        return (
            f"not CPU-bound: best run's cpu/wall {shares}, median {medians} (base/candidate; "
            f"CPU-bound needs >= {stats.CPU_BOUND_SHARE:.2f} on both sides and a median <= "
            f"{stats.CPU_PARALLEL_SHARE:.2f})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "check": self.check,
            "cpu_share": list(self.cpu_share) if self.cpu_share is not None else None,
            "cpu_median": list(self.cpu_median) if self.cpu_median is not None else None,
            "vetoed": self.vetoed,
            "reason": self.reason,
        }


def choose_decision(
    base: Sequence[ProcessResult], cand: Sequence[ProcessResult], primary: str
) -> Decision:
    """The metric to decide on, from the pairs measured so far (``compare`` calls it once, on
    the first batch, and keeps the choice: switching metrics between looks would spend alpha
    twice). Only a ``wall_time`` primary metric is ever replaced."""
    if primary != WALL:
        return Decision(metric=primary)
    shares = []
    medians = []
    for side in (base, cand):
        cpu, wall = metric_values(side, CPU), metric_values(side, WALL)
        shares.append(stats.cpu_share(cpu, wall))
        medians.append(stats.cpu_median_share(cpu, wall))
    if not all(math.isfinite(v) for v in (*shares, *medians)):
        return Decision(metric=WALL)
    share = (shares[0], shares[1])
    median = (medians[0], medians[1])
    if stats.is_cpu_bound(shares, medians):
        return Decision(metric=CPU, check=WALL, cpu_share=share, cpu_median=median)
    return Decision(metric=WALL, cpu_share=share, cpu_median=median)


def paired_log_ratios(
    base: Sequence[ProcessResult], cand: Sequence[ProcessResult], metrics: Sequence[str]
) -> tuple[np.ndarray, ...]:
    """log(candidate/base) of each metric over the pairs where every metric is positive."""
    values = [
        (np.asarray(metric_values(base, m)), np.asarray(metric_values(cand, m))) for m in metrics
    ]
    keep = np.ones(len(base), dtype=bool)
    for b, c in values:
        keep &= np.isfinite(b) & np.isfinite(c) & (b > 0) & (c > 0)
    return tuple(np.log(c[keep] / b[keep]) for b, c in values)


def decision_code(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    decision: Decision,
    *,
    z_bound: float,
    threshold: float,
    alpha: float,
    trim: float = stats.DEFAULT_TRIM,
    z_eq: float | None = None,
) -> int:
    """The decision code (``stats.INCREASE`` ...) of ``decision``'s rule over the pairs so far
    (``z_eq``: the look's equivalence boundary, ``SequentialDesign.eq_bound``)."""
    if decision.check is None:
        (x,) = paired_log_ratios(base, cand, [decision.metric])
        if x.size < 3:
            return stats.UNDECIDED
        return int(
            stats.decide(x, z_bound=z_bound, threshold=threshold, alpha=alpha, trim=trim, z_eq=z_eq)
        )
    x_cpu, x_wall = paired_log_ratios(base, cand, [decision.metric, decision.check])
    if x_cpu.size < 3:
        return stats.UNDECIDED
    return int(
        stats.decide_checked(
            x_cpu, x_wall, z_bound=z_bound, threshold=threshold, alpha=alpha, trim=trim, z_eq=z_eq
        )
    )


def vetoed(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    decision: Decision,
    *,
    z_bound: float,
    threshold: float,
    alpha: float,
    z_eq: float | None = None,
) -> bool:
    """Whether CPU time alone would have decided where wall time's check vetoed it."""
    if decision.check is None:
        return False
    (x,) = paired_log_ratios(base, cand, [decision.metric])
    if x.size < 3:
        return False
    alone = int(stats.decide(x, z_bound=z_bound, threshold=threshold, alpha=alpha, z_eq=z_eq))
    checked = decision_code(
        base, cand, decision, z_bound=z_bound, threshold=threshold, alpha=alpha, z_eq=z_eq
    )
    return alone != stats.UNDECIDED and checked == stats.UNDECIDED
