"""``perfop run``: measure workloads in the current tree and store every sample.

The service spawns samples through the runner, writes each one in its own transaction, and on an
interruption (Ctrl-C, SIGTERM) marks the run ``interrupted`` with the samples completed so far.
It never prints; callers observe progress through a ``RunProgress``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import ValidationError

from perfop import __version__
from perfop.config import (
    LoadedConfig,
    ResolvedWorkload,
    WorkloadConfig,
    format_validation_error,
    resolve_workload,
)
from perfop.environment import capture_environment, git_state, redact_argv, redact_obj, redact_text
from perfop.errors import UsageError, WorkloadError
from perfop.measure.contention import Monitor
from perfop.measure.runner import check_startable, run_setup, set_affinity, workload_env
from perfop.measure.suites import sampler_for
from perfop.model import BUILTIN_METRICS, Failure, MetricSpec, ProcessResult, RunStatus, Sample
from perfop.store import Store

if TYPE_CHECKING:
    from perfop.stats import Summary

RUN_SCHEMA = "perfop.run/2"  # 2: each run has a "contention" object (perfop.measure.contention)
ADHOC = "adhoc"
# A workload that has never succeeded stops after this many failures in a row (warm-ups
# included): a broken command or a hang would otherwise spend the whole budget repeating itself.
# Once one process has succeeded, later failures are recorded and measuring goes on (flaky
# workloads keep their data).
FAIL_FAST = 3
MAX_RUNS = 1_000_000
MAX_TIMEOUT = 7 * 24 * 3600.0  # a week; inf and nan are not timeouts


class RunProgress(Protocol):
    def workload_started(self, name: str, total: int) -> None: ...
    def sample_done(self, name: str, index: int, result: ProcessResult) -> None: ...
    def workload_finished(self, name: str) -> None: ...


class _Silent:
    def workload_started(self, name: str, total: int) -> None: ...
    def sample_done(self, name: str, index: int, result: ProcessResult) -> None: ...
    def workload_finished(self, name: str) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    runs: int
    warmup: int
    timeout: float
    max_time: float
    min_runs: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "warmup": self.warmup,
            "timeout": self.timeout,
            "max_time": self.max_time,
            "min_runs": self.min_runs,
        }


@dataclass
class WorkloadRun:
    """The outcome of measuring one workload: what the CLI renders and JSON reports."""

    run_id: int
    workload: str
    argv: list[str]
    cwd: str
    settings: RunSettings
    status: RunStatus = RunStatus.RUNNING
    samples: list[Sample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    metric_specs: dict[str, MetricSpec] = field(default_factory=dict)
    metrics_filter: list[str] | None = None
    stopped: str | None = None  # why measuring stopped before its budget, if it did
    contention: dict[str, Any] | None = None  # perfop.measure.contention summary over the samples
    environment: dict[str, Any] | None = None  # the fingerprint stored with the run

    def metric_names(self) -> list[str]:
        names = list(self.metric_specs)
        if self.metrics_filter:
            names = [n for n in self.metrics_filter if n in self.metric_specs]
        return names

    def summaries(self) -> dict[str, Summary]:
        from perfop.describe import summarize  # NumPy only for large or non-finite samples

        out: dict[str, Summary] = {}
        for name in self.metric_names():
            values = [s.metrics[name] for s in self.samples if name in s.metrics]
            if values:
                out[name] = summarize(values)
        return out


def settings_for(
    workload: WorkloadConfig | None,
    *,
    runs: int | None,
    warmup: int | None,
    timeout: float | None,
    max_time: float | None = None,
) -> RunSettings:
    """Command-line values win over the workload's config, which wins over ad hoc defaults."""
    if runs is not None and runs < 1:
        raise UsageError(f"--runs must be >= 1 (got {runs})")
    if runs is not None and runs > MAX_RUNS:
        raise UsageError(f"--runs must be at most {MAX_RUNS} (got {runs})")
    if warmup is not None and warmup < 0:
        raise UsageError(f"--warmup must be >= 0 (got {warmup})")
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT:
        raise UsageError(
            f"--timeout must be a number of seconds > 0 and at most {MAX_TIMEOUT:g} (got {timeout})"
        )
    if workload is None:
        n = runs or 10
        return RunSettings(
            runs=n,
            warmup=1 if warmup is None else warmup,
            timeout=timeout or 60.0,
            max_time=max_time or 3600.0,
            min_runs=n,
        )
    n = runs or workload.max_runs
    return RunSettings(
        runs=n,
        warmup=workload.warmup if warmup is None else warmup,
        timeout=timeout or workload.timeout,
        # An explicit --runs asks for exactly that many; otherwise max_time bounds the run.
        max_time=max_time or (3600.0 if runs else workload.max_time),
        min_runs=min(workload.min_runs, n),
    )


def run_workloads(
    store: Store,
    loaded: LoadedConfig,
    names: Sequence[str] = (),
    *,
    runs: int | None = None,
    warmup: int | None = None,
    timeout: float | None = None,
    progress: RunProgress | None = None,
) -> list[WorkloadRun]:
    """Measure configured workloads (all when ``names`` is empty) in the live tree."""
    config = loaded.config
    if not names:
        names = list(config.workloads)
        if not names:
            where = loaded.source if loaded.path else f"no perfop config in {loaded.repo_root}"
            raise UsageError(
                f"{where}: no workloads configured; add [tool.perfop.workloads.NAME] to "
                "pyproject.toml (or perfop.toml), or measure a command: perfop run -- CMD ARGS"
            )
    plans = []
    for name in names:
        wl = loaded.workload(name)
        resolved = resolve_workload(name, wl, repo=loaded.repo_root, worktree=loaded.project_dir())
        plans.append((resolved, settings_for(wl, runs=runs, warmup=warmup, timeout=timeout)))
    return _run_plans(
        store,
        loaded.repo_root,
        plans,
        affinity=config.affinity,
        progress=progress,
        source=loaded.source,
    )


def run_adhoc(
    store: Store,
    repo_root: Path,
    argv: Sequence[str],
    *,
    runs: int | None = None,
    warmup: int | None = None,
    timeout: float | None = None,
    name: str = ADHOC,
    progress: RunProgress | None = None,
) -> WorkloadRun:
    """Measure an ad hoc command (no configuration needed)."""
    if not argv:
        raise UsageError("no command given after '--'; e.g. perfop run -- python bench.py")
    try:
        wl = WorkloadConfig(command=list(argv))
    except ValidationError as exc:  # an empty or unusable argument
        problem = format_validation_error(exc, WorkloadConfig, "the command after '--'")
        raise UsageError(
            f"{problem}; give the program and its arguments, e.g. perfop run -- python bench.py"
        ) from None
    resolved = resolve_workload(name, wl, repo=repo_root, worktree=Path.cwd())
    settings = settings_for(None, runs=runs, warmup=warmup, timeout=timeout)
    return _run_plans(store, repo_root, [(resolved, settings)], affinity=None, progress=progress)[0]


def _run_plans(
    store: Store,
    repo_root: Path,
    plans: Sequence[tuple[ResolvedWorkload, RunSettings]],
    *,
    affinity: list[int] | None,
    progress: RunProgress | None,
    source: str | None = None,
) -> list[WorkloadRun]:
    """Measure each plan in turn; a workload that cannot start is named (with ``source``)."""
    progress = progress or _Silent()
    set_affinity(affinity)
    git = git_state(repo_root)
    stored: list[tuple[int, dict[str, Any]]] = []

    def env_id() -> int:
        # Stored with the first run, so a workload that cannot start leaves no row behind.
        if not stored:
            env = capture_environment(repo_root, git=git)  # the state the runs are stored with
            stored.append((store.add_environment(env), env))
        return stored[0][0]

    outcomes: list[WorkloadRun] = []
    for resolved, settings in plans:
        try:
            outcomes.append(_run_plan(store, resolved, settings, env_id, git, progress))
        except WorkloadError as exc:
            if source is None:
                raise
            raise exc.naming(resolved.name, source) from None
        outcomes[-1].environment = stored[0][1]
    return outcomes


def environment_of(outcomes: Sequence[WorkloadRun], repo_root: Path) -> dict[str, Any]:
    """The environment the runs were stored with (taken once, before their first sample), for
    their JSON document; captured now only for outcomes that carry none."""
    env = outcomes[0].environment if outcomes else None
    return env if env is not None else capture_environment(repo_root)


def _run_plan(
    store: Store,
    resolved: ResolvedWorkload,
    settings: RunSettings,
    env_id: Callable[[], int],
    git: dict[str, Any],
    progress: RunProgress,
) -> WorkloadRun:
    env = workload_env(resolved.env)
    run_setup(resolved, env=env)
    # Before begin_run: a command that cannot start leaves no run behind (setup may create it).
    check_startable(resolved.argv, cwd=resolved.cwd, env=env)
    run_id = store.begin_run(
        workload=resolved.name,
        argv=resolved.argv,
        kind="run",
        cwd=str(resolved.cwd),
        env=resolved.env,
        ref=git["branch"] or "HEAD",
        sha=git["sha"],
        dirty=git["dirty"],
        settings=settings.as_dict(),
        environment_id=env_id(),
    )
    outcome = WorkloadRun(
        run_id=run_id,
        workload=resolved.name,
        argv=redact_argv(resolved.argv),
        cwd=redact_text(str(resolved.cwd)),
        settings=settings,
        metrics_filter=resolved.config.metrics,
    )
    monitor = Monitor()
    try:
        _measure_into(store, resolved, settings, env, outcome, progress, monitor)
    except BaseException:
        outcome.status = RunStatus.INTERRUPTED
        outcome.contention = monitor.summary()
        store.finish_run(
            run_id, outcome.status, outcome.metric_specs or None, contention=outcome.contention
        )
        raise
    outcome.status = RunStatus.COMPLETE if outcome.samples else RunStatus.FAILED
    missing = [n for n in resolved.config.metrics or () if n not in outcome.metric_specs]
    if outcome.samples and missing:
        # ``metrics = ["nosuch"]`` would otherwise be an empty table on a "complete" run.
        if len(missing) == len(resolved.config.metrics or ()):
            outcome.status = RunStatus.FAILED
        outcome.stopped = (
            f"metrics {', '.join(map(repr, missing))} never reported; built-in metrics are "
            f"{', '.join(BUILTIN_METRICS)}, a workload reports its own by printing "
            "'PERFOP_METRIC NAME=VALUE'; fix the workload's metrics"
        )
    outcome.contention = monitor.summary()
    store.finish_run(run_id, outcome.status, outcome.metric_specs, contention=outcome.contention)
    return outcome


def _measure_into(
    store: Store,
    resolved: ResolvedWorkload,
    settings: RunSettings,
    env: dict[str, str],
    outcome: WorkloadRun,
    progress: RunProgress,
    monitor: Monitor,
) -> None:
    progress.workload_started(resolved.name, settings.runs)
    streak = _FailureStreak()
    cfg = resolved.config
    sampler = sampler_for(cfg.kind, cfg.run_value, cfg.check_output_bytes)
    sizes = _BatchSizes()

    def batch(count: int, take: Callable[[ProcessResult], None]) -> None:
        def on_result(result: ProcessResult) -> None:
            sizes.add(result)
            take(result)

        sampler.run_batch(
            resolved.argv,
            cwd=resolved.cwd,
            env=env,
            timeout=settings.timeout,
            count=count,
            on_result=on_result,
        )

    warmed = 0
    while warmed < settings.warmup:
        warm: list[ProcessResult] = []
        batch(sizes.next(settings.warmup - warmed, streak.succeeded), warm.append)
        warmed += len(warm)
        if any(streak.add(result) for result in warm):
            outcome.stopped = streak.reason()
            progress.workload_finished(resolved.name)
            return
    started = time.monotonic()
    monitor.start()  # /proc is read between batches, never while a sample is timed
    with store.sample_writer(outcome.run_id) as writer:
        index = 0
        stop = False

        def take(result: ProcessResult) -> None:
            nonlocal index, stop
            monitor.add(result.user_time + result.sys_time)
            writer.add(index, result)
            _record(outcome, index, result)
            progress.sample_done(resolved.name, index, result)
            index += 1
            if streak.add(result):
                outcome.stopped = streak.reason()
                stop = True

        while index < settings.runs and not stop:
            if index >= settings.min_runs and time.monotonic() - started >= settings.max_time:
                break
            batch(sizes.next(settings.runs - index, streak.succeeded), take)
    progress.workload_finished(resolved.name)


class _BatchSizes:
    """How many consecutive samples to run as one batch (``runner.run_batch``).

    One at a time until the workload has succeeded once (so a broken command stops after
    ``FAIL_FAST`` failures exactly as before), then doubling, capped at ``MAX_BATCH`` and at
    what the slowest sample of the last batch says fits in ``BATCH_SECONDS``: a batch never
    takes much longer than the sample writer's flush interval, so ``max_time``, progress and
    an interruption are followed within about that. Workloads slower than ``BATCH_SECONDS``
    run one by one, as before batches existed.
    """

    BATCH_SECONDS = 0.25
    MAX_BATCH = 64  # launch.Spawner.MAX_BATCH

    def __init__(self) -> None:
        self.last = 0  # the size of the last batch asked for
        self._slowest = 0.0  # the slowest wall time of the last batch
        self._fresh = True  # no result of the current batch seen yet

    def next(self, remaining: int, succeeded: bool) -> int:
        if not succeeded or self.last == 0:
            size = 1
        else:
            fits = int(self.BATCH_SECONDS / max(self._slowest, 1e-6))
            size = max(1, min(2 * self.last, self.MAX_BATCH, fits))
        self.last = min(size, remaining)
        self._fresh = True
        return self.last

    def add(self, result: ProcessResult) -> None:
        if self._fresh:
            self._slowest, self._fresh = 0.0, False
        self._slowest = max(self._slowest, result.wall_time)


class _FailureStreak:
    """Counts failures until the first success; says when a workload should be given up."""

    def __init__(self) -> None:
        self.succeeded = False
        self.failures = 0
        self.last = ""

    def add(self, result: ProcessResult) -> bool:
        if result.ok:
            self.succeeded = True
            return False
        if self.succeeded:
            return False
        self.failures += 1
        self.last = result.describe_failure()
        return self.failures >= FAIL_FAST

    def reason(self) -> str:
        return (
            f"stopped after {self.failures} failed runs in a row and none succeeded "
            f"(warm-ups included; last: {self.last}); fix the command, then measure again"
        )


def _record(outcome: WorkloadRun, index: int, result: ProcessResult) -> None:
    """Keep a measured process on the outcome: a sample, or a failure shown next to them."""
    if result.ok:
        outcome.samples.append(Sample(index=index, metrics=dict(result.metrics)))
        for metric_name, spec in result.metric_specs.items():
            outcome.metric_specs.setdefault(metric_name, spec)
        return
    outcome.failures.append(
        Failure(
            index=index,
            reason=result.describe_failure(),
            exit_code=result.exit_code,
            signal=result.signal,
            timed_out=result.timed_out,
            wall_time=result.wall_time,
            stderr_tail=redact_text(result.stderr_tail),
        )
    )


def run_document(
    outcomes: Sequence[WorkloadRun], environment: dict[str, Any] | None
) -> dict[str, Any]:
    """The versioned JSON document of ``perfop run --format json``: every raw sample included."""
    runs = []
    for o in outcomes:
        summaries = o.summaries()
        runs.append(
            {
                "id": o.run_id,
                "workload": o.workload,
                "status": o.status.value,
                "command": o.argv,
                "cwd": o.cwd,
                "settings": o.settings.as_dict(),
                "metrics": {
                    name: {
                        "unit": o.metric_specs[name].unit,
                        "better": o.metric_specs[name].better,
                        "summary": vars(summaries[name]) if name in summaries else None,
                    }
                    for name in o.metric_names()
                },
                "samples": [{"index": s.index, "metrics": s.metrics} for s in o.samples],
                "failures": [vars(f) for f in o.failures],
                "stopped": o.stopped,
                "contention": o.contention,
            }
        )
    return {
        "schema": RUN_SCHEMA,
        "perfop_version": __version__,
        "environment": redact_obj(environment or {}),
        "runs": runs,
    }


def default_metric_specs() -> dict[str, MetricSpec]:
    return {n: MetricSpec(n, u, b) for n, (u, b) in BUILTIN_METRICS.items()}


@dataclass(frozen=True)
class SuiteListing:
    """What a suite workload contains, by its own runner's discovery (nothing is timed)."""

    workload: str
    kind: str
    benchmarks: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "kind": self.kind, "benchmarks": list(self.benchmarks)}


def list_suites(loaded: LoadedConfig, names: Sequence[str] = ()) -> list[SuiteListing]:
    """The benchmarks of each suite workload (all of them when ``names`` is empty), in the
    user's tree; a command workload named here is a usage error."""
    from perfop.measure.suites import discover

    wanted = list(names) or [n for n, w in loaded.config.workloads.items() if w.is_suite]
    out = []
    for name in wanted:
        wl = loaded.workload(name)
        if not wl.is_suite:
            raise UsageError(
                f'{name}: --list lists suite workloads (kind = "pytest-benchmark" or "asv"); '
                f"{name} is a command"
            )
        res = resolve_workload(name, wl, repo=loaded.repo_root, worktree=loaded.project_dir())
        env = workload_env(res.env)
        run_setup(res, env=env)
        try:
            found = discover(wl.kind, res.argv, cwd=res.cwd, env=env, timeout=res.timeout)
        except WorkloadError as exc:
            raise exc.naming(name, loaded.source) from None
        out.append(SuiteListing(name, wl.kind, tuple(found)))
    return out
