"""``perfop calibrate``: an A/A run of one commit on both sides, measuring this machine's noise.

The per-pair spread of log-ratios it stores is what ``compare`` reads to size its first batch;
the minimum detectable effect it reports says whether the configured threshold is realistic here.
It runs the one measurement pipeline of ``compare`` (``pipeline.py``: budget, set-up, warm-up,
pairs), only with no look stopping it early and nothing decided, so a calibration spends its
budget exactly as a comparison would.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfop import stats
from perfop.compare.budget import Budget, Clock, Plan, refuse_spent
from perfop.compare.pairs import metric_values, workload_names
from perfop.compare.pipeline import (
    Checkouts,
    Job,
    Measured,
    Notices,
    Silent,
    budgets,
    check_out,
    measure_workload,
    resolve_seed,
)
from perfop.compare.service import CompareProgress, RefInfo
from perfop.config import LoadedConfig
from perfop.environment import capture_environment
from perfop.measure.runner import set_affinity
from perfop.measure.worktrees import WorktreeSession, resolve_ref
from perfop.store import Store
from perfop.store import compare as cstore

CALIBRATION_SCHEMA = "perfop.calibration/2"  # 2: "contention" (perfop.measure.contention)


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
    contention: dict[str, Any] | None = None  # the machine during the A/A pairs
    budget: Plan | None = None
    notices: tuple[str, ...] = ()


def calibrate(
    store: Store,
    loaded: LoadedConfig,
    *,
    workloads: Sequence[str] = (),
    ref: str = "HEAD",
    seed: int | None = None,
    max_time: float | None = None,
    max_pairs: int | None = None,
    max_runs: int | None = None,
    progress: CompareProgress | None = None,
    started: float | None = None,
    clock: Clock = time.monotonic,
) -> list[CalibrationResult]:
    """A/A: the same commit on both sides, for the workload's whole budget; stores the noise.

    The budget is planned exactly as ``compare`` plans it (``budget.py``), from ``started``
    (default: now); ``max_runs`` is the deprecated name of ``max_pairs``."""
    started = clock() if started is None else started
    refuse_spent(max_time, started=started, clock=clock)
    repo = loaded.repo_root
    names = workload_names(loaded, workloads)
    sha = resolve_ref(repo, ref)
    cap = max_pairs if max_pairs is not None else max_runs
    seed = resolve_seed(seed, loaded.config)
    set_affinity(loaded.config.affinity)
    env_id = store.add_environment(capture_environment(repo))
    with WorktreeSession(repo) as session:
        checkouts = check_out(session, sha, sha, clock)
        each = budgets(
            loaded,
            names,
            max_time=max_time,
            max_pairs=cap,
            started=started,
            clock=clock,
            reserve=checkouts.reserve,
        )
        return [
            _calibrate_workload(
                store,
                loaded,
                checkouts,
                _job(loaded, name, budget, ref=ref, seed=seed, env_id=env_id),
                budget,
                progress=progress or Silent(),
            )
            for name, budget in each
        ]


def _job(
    loaded: LoadedConfig, name: str, budget: Budget, *, ref: str, seed: int, env_id: int
) -> Job:
    """A calibration's pipeline job: A/A for the whole budget, nothing decided, and a command
    that cannot start is that workload's failure."""
    return Job(
        name=name,
        kind="calibrate",
        settings={
            **budget.settings.to_dict(),
            "warmup": loaded.workload(name).warmup,
            "seed": seed,
        },
        seed=seed,
        env_id=env_id,
        stopping="budget",
        ref=ref,
        start_errors="fail",
        keep_specs=False,
    )


def _calibrate_workload(
    store: Store,
    loaded: LoadedConfig,
    checkouts: Checkouts,
    job: Job,
    budget: Budget,
    *,
    progress: CompareProgress,
) -> CalibrationResult:
    """One workload through the pipeline, A/A; its noise and what it implies, stored."""
    name, config = job.name, loaded.config
    assert job.ref is not None
    measured = measure_workload(
        store, loaded, checkouts, job, budget, progress=progress, notices=Notices(name, progress)
    )
    primary = loaded.workload(name).primary_metric
    noise_sd = stats.robust_sd(
        stats.log_ratios(
            metric_values(measured.base.results, primary),
            metric_values(measured.cand.results, primary),
        )
    )
    reach = _reach(budget, measured, noise_sd, config.alpha, config.threshold)
    failure = measured.decided.failure
    pairs = measured.decided.pairs
    sha = checkouts.base.sha
    warning = reach.warning(name, config.threshold)
    doc = {
        "schema": CALIBRATION_SCHEMA,
        "workload": name,
        "ref": job.ref,
        "sha": sha,
        "pairs": pairs,
        "seed": job.seed,
        "noise_sd": noise_sd,
        "planned_pairs": reach.planned,
        "mde": reach.mde,
        "noise_floor": reach.floor,
        "threshold": config.threshold,
        "warning": warning,
        "failure": failure,
        "contention": measured.contention,
        "elapsed": round(budget.elapsed(), 3),
        "budget": measured.budget.to_dict() if measured.budget is not None else None,
        "notices": list(measured.notices),
    }
    cal_id = cstore.add_calibration(
        store,
        workload=name,
        ref=job.ref,
        sha=sha,
        pairs=pairs,
        noise_sd=noise_sd if failure is None else None,
        mde=reach.mde,
        threshold=config.threshold,
        environment_id=job.env_id,
        document=doc,
    )
    return CalibrationResult(
        id=cal_id,
        workload=name,
        ref=RefInfo(job.ref, sha),
        pairs=pairs,
        noise_sd=noise_sd,
        planned_pairs=reach.planned,
        mde=reach.mde,
        noise_floor=reach.floor,
        threshold=config.threshold,
        warning=warning,
        failure=failure,
        contention=measured.contention,
        budget=measured.budget,
        notices=measured.notices,
    )


@dataclass(frozen=True)
class _Reach:
    """What a comparison of this workload gets from the same budget, planned the same way."""

    planned: int
    mde: float
    floor: float

    def warning(self, name: str, threshold: float) -> str | None:
        if not (math.isfinite(self.floor) and threshold < self.floor):
            return None
        return (
            f"threshold {threshold:.1%} is below what this machine can detect for "
            f"{name!r} within the budget ({self.floor:.1%} with {self.planned} pairs); raise "
            "'threshold' or 'max_time', or pin CPUs with 'affinity'"
        )


def _reach(
    budget: Budget, measured: Measured, noise_sd: float, alpha: float, threshold: float
) -> _Reach:
    per_pair = measured.pair_cost
    p = budget.planned
    if per_pair and p is not None:
        planned = max(budget.pairs_within(p.effective - p.spent - p.reserve, per_pair), 1)
    else:
        planned = max(measured.decided.pairs, 1)
    design = stats.plan(
        alpha=alpha,
        threshold=threshold,
        first=min(budget.settings.min_pairs, planned),
        max_pairs=planned,
    )
    z_final = design.z_bounds[-1]
    if not math.isfinite(noise_sd):
        return _Reach(planned, math.nan, math.nan)
    mde = stats.planned_mde(noise_sd, planned, threshold=threshold, z_bound=z_final)
    floor = math.expm1((z_final + stats.POWER_Z) * noise_sd / math.sqrt(planned))
    return _Reach(planned, mde, floor)


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def calibration_document(results: Sequence[CalibrationResult]) -> dict[str, Any]:
    """The ``--format json`` document of ``perfop calibrate`` (and the MCP calibrate tool)."""
    return {
        "schema": CALIBRATION_SCHEMA,
        "calibrations": [
            {
                "id": c.id,
                "workload": c.workload,
                "ref": c.ref.ref,
                "sha": c.ref.sha,
                "pairs": c.pairs,
                "noise_sd": _num(c.noise_sd),
                "planned_pairs": c.planned_pairs,
                "mde": _num(c.mde),
                "noise_floor": _num(c.noise_floor),
                "threshold": c.threshold,
                "warning": c.warning,
                "failure": c.failure,
                "contention": c.contention,
                "budget": c.budget.to_dict() if c.budget else None,
                "notices": list(c.notices),
            }
            for c in results
        ],
    }
