"""``perfop calibrate``: an A/A run of one commit on both sides, measuring this machine's noise.

The per-pair spread of log-ratios it stores is what ``compare`` reads to size its first batch;
the minimum detectable effect it reports says whether the configured threshold is realistic here.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from perfop import stats
from perfop.compare import RefInfo
from perfop.config import LoadedConfig, resolve_workload
from perfop.environment import capture_environment
from perfop.errors import WorkloadError
from perfop.model import RunStatus
from perfop.pairs import PairRunner, Side, SideFailed, metric_values, plan_pairs, workload_names
from perfop.runner import run_setup, set_affinity, workload_env
from perfop.store import Store
from perfop.store import compare as cstore
from perfop.worktrees import Checkout, WorktreeSession, resolve_ref, settle_disk

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
    names = workload_names(loaded, workloads)
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
        sides.append(Side(label, co, res, workload_env(res.env), run_id))
    runner = PairRunner(store, sides[0], sides[1], seed, name)
    started = time.monotonic()
    failure = None
    try:
        for side in sides:
            run_setup(side.resolved, env=side.env)
        settle_disk()
        runner.warm_up(wl.warmup)
        t0 = time.monotonic()
        while runner.index < budget_runs:
            if runner.index >= 3 and time.monotonic() - started > budget_time:
                break
            runner.pair()
        measuring = time.monotonic() - t0
    except (SideFailed, WorkloadError) as exc:
        failure = getattr(exc, "message", str(exc))
        measuring = time.monotonic() - started
    contention = runner.contention.summary()
    for side in sides:
        status = RunStatus.FAILED if failure else RunStatus.COMPLETE
        store.finish_run(side.run_id, status, contention=contention)
    x = stats.log_ratios(
        metric_values(sides[0].results, wl.primary_metric),
        metric_values(sides[1].results, wl.primary_metric),
    )
    noise_sd = stats.robust_sd(x)
    per_pair = measuring / max(runner.index, 1)
    planned = plan_pairs(per_pair, min_runs=wl.min_runs, max_runs=budget_runs, max_time=budget_time)
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
        "contention": contention,
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
    )
