"""``perfop calibrate``: an A/A run of one commit on both sides, measuring this machine's noise.

The per-pair spread of log-ratios it stores is what ``compare`` reads to size its first batch;
the minimum detectable effect it reports says whether the configured threshold is realistic here.
Set-up, warm-up, budget and pair loop are ``compare``'s own (``set_up_sides``, ``budget.py``,
``pairs.run_pairs``), so a calibration spends its budget exactly as a comparison would.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfop import stats
from perfop.budget import Budget, Clock, Plan, refuse_spent, workload_budget
from perfop.compare import CompareProgress, RefInfo, set_up_sides
from perfop.config import LoadedConfig
from perfop.environment import capture_environment
from perfop.errors import WorkloadError
from perfop.model import RunStatus
from perfop.pairs import (
    PairRunner,
    SideFailed,
    begin_sides,
    metric_values,
    plan_budget,
    run_pairs,
    typical_pair,
    workload_names,
)
from perfop.runner import set_affinity
from perfop.store import Store
from perfop.store import compare as cstore
from perfop.worktrees import Checkout, WorktreeSession, resolve_ref

CALIBRATION_SCHEMA = "perfop.calibration/2"  # 2: "contention" (perfop.contention)


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
    config = loaded.config
    names = workload_names(loaded, workloads)
    sha = resolve_ref(repo, ref)
    cap = max_pairs if max_pairs is not None else max_runs
    seed = (
        seed
        if seed is not None
        else (config.seed if config.seed is not None else secrets.randbits(32))
    )
    set_affinity(config.affinity)
    env_id = store.add_environment(capture_environment(repo))
    out: list[CalibrationResult] = []
    with WorktreeSession(repo) as session:
        t0 = clock()
        a = session.checkout("base", sha)
        b = session.checkout("cand", sha)
        reserve = clock() - t0
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
            out.append(
                _calibrate_workload(
                    store,
                    loaded,
                    name,
                    a,
                    b,
                    ref=ref,
                    seed=seed,
                    budget=budget,
                    env_id=env_id,
                    progress=progress,
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
    budget: Budget,
    env_id: int,
    progress: CompareProgress | None,
) -> CalibrationResult:
    wl = loaded.workload(name)
    config = loaded.config
    sides = begin_sides(
        store,
        loaded,
        name,
        (("base", a), ("candidate", b)),
        kind="calibrate",
        settings={**budget.settings.to_dict(), "warmup": wl.warmup, "seed": seed},
        env_id=env_id,
        ref=ref,
    )
    runner = PairRunner(store, sides[0], sides[1], seed, name, clock=budget.clock)
    failure = None
    notices: list[str] = []
    try:
        set_up_sides(sides)
        plan = plan_budget(runner, budget, wl.warmup)
        if plan.message:
            notices.append(f"{name}: {plan.message}")
            if progress is not None:
                progress.notice(name, plan.level or "note", notices[-1])
        total = max(plan.affordable, runner.index, 1)
        if progress is not None:
            progress.workload_started(name, total)
        # A/A for the whole budget: no look stops it early.
        on_pair = (lambda n: progress.pair_done(name, n, total)) if progress is not None else None
        run_pairs(runner, budget, budget.settings.max_pairs or 10**9, on_pair)
    except (SideFailed, WorkloadError) as exc:
        failure = getattr(exc, "message", str(exc))
    finally:
        if progress is not None:
            progress.workload_finished(name)
    contention = runner.contention.summary()
    for side in sides:
        status = RunStatus.FAILED if failure else RunStatus.COMPLETE
        store.finish_run(side.run_id, status, contention=contention)
    x = stats.log_ratios(
        metric_values(sides[0].results, wl.primary_metric),
        metric_values(sides[1].results, wl.primary_metric),
    )
    noise_sd = stats.robust_sd(x)
    # What a comparison of this workload gets from the same budget, planned the same way.
    per_pair = typical_pair(runner, budget)
    p = budget.planned
    if per_pair and p is not None:
        planned = max(budget.pairs_within(p.effective - p.spent - p.reserve, per_pair), 1)
    else:
        planned = max(runner.index, 1)
    design = stats.plan(
        alpha=config.alpha,
        threshold=config.threshold,
        first=min(budget.settings.min_pairs, planned),
        max_pairs=planned,
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
            f"{name!r} within the budget ({floor:.1%} with {planned} pairs); raise 'threshold' "
            "or 'max_time', or pin CPUs with 'affinity'"
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
        "contention": contention,
        "elapsed": round(budget.elapsed(), 3),
        "budget": p.to_dict() if p is not None else None,
        "notices": notices,
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
        contention=contention,
        budget=p,
        notices=tuple(notices),
    )


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
