"""The interleaved pair loop shared by ``compare`` and ``calibrate``, and the per-metric analysis.

A ``PairRunner`` runs one base and one candidate process per pair, in an order drawn per pair from
a seeded generator, storing every result; a failed process raises ``SideFailed`` naming the side.
``analyse`` turns both sides' results into ``MetricResult`` rows with ``stats.compare_metric``.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from perfop import stats
from perfop.config import LoadedConfig, ResolvedWorkload, WorkloadConfig
from perfop.contention import Monitor
from perfop.environment import redact_text
from perfop.errors import UsageError
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult, Verdict
from perfop.runner import run_process
from perfop.store import Store
from perfop.worktrees import Checkout


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


@dataclass
class Side:
    label: str  # "base" | "candidate"
    checkout: Checkout
    resolved: ResolvedWorkload
    env: dict[str, str]
    run_id: int
    results: list[ProcessResult] = field(default_factory=list)


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


class PairRunner:
    """Runs pairs of (base, candidate) processes in a seeded random order per pair.

    Warm-up rounds are pairs too, through the same path, so the first measured pair follows
    exactly what every later pair follows. Both results of a pair are stored after the pair,
    so the two runs of a pair are back to back and differ only in their position.
    """

    def __init__(self, store: Store, base: Side, cand: Side, seed: int, name: str) -> None:
        self.store = store
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
            result = run_process(r.argv, cwd=r.cwd, env=side.env, timeout=r.timeout)
            done.append((side, result))
            if not result.ok:
                break
        return done

    def warm_up(self, rounds: int) -> float | None:
        """Run ``rounds`` unrecorded pairs; returns the wall time of the last one, if any."""
        cost = None
        for _ in range(rounds):
            t0 = time.monotonic()
            for side, result in self._both(self._warm_rng):
                if not result.ok:
                    raise SideFailed(failure_text(side.label, result))
            cost = time.monotonic() - t0
        return cost

    def pair(self) -> None:
        self.contention.start()
        t0 = time.monotonic()
        done = self._both(self.rng)
        self.pair_walls.append(time.monotonic() - t0)
        self.contention.add(sum(r.user_time + r.sys_time for _, r in done))
        for side, result in done:
            self.store.add_result(side.run_id, self.index, result)
        for side, result in done:
            if not result.ok:
                raise SideFailed(failure_text(side.label, result))
            side.results.append(result)
        self.index += 1


def plan_pairs(pair_cost: float | None, *, min_runs: int, max_runs: int, max_time: float) -> int:
    if pair_cost is None or pair_cost <= 0:
        return max_runs
    by_time = int(max_time / (pair_cost * 1.05))
    return max(min_runs, min(max_runs, by_time))


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
) -> tuple[MetricResult, ...]:
    out = []
    for name, spec in specs.items():
        b, c = metric_values(base, name), metric_values(cand, name)
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
