"""Benchmark suites as workloads: one suite run is one sample, each benchmark one metric.

A workload of ``kind = "pytest-benchmark"`` or ``kind = "asv"`` runs the project's own suite
through its own runner (pytest with ``--benchmark-json``; ``asv run --python=same``) as one
process, then reads the suite's result file: each benchmark becomes a metric of that sample
whose value is the minimum (``run_value``: or median, mean) of its rounds in that run.
Everything downstream (pairs, statistics, store, history) sees an ordinary ``ProcessResult``
with more metrics. ``Sampler`` is the seam: ``ProcessSampler`` for command workloads,
``SuiteSampler`` for suites; each sampler remembers which benchmarks failed in which run, so a
comparison can say so.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from perfop.errors import WorkloadError
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult

SUITE_KINDS = ("pytest-benchmark", "asv")
COMMAND_KIND = "command"


@dataclass(frozen=True)
class BenchmarkResult:
    """One benchmark of one suite run: its rounds (seconds per call, or the suite's unit)."""

    name: str
    value: float  # the runner's own summary (median); the sample's value is from ``rounds``
    rounds: tuple[float, ...]
    unit: str = "s"
    better: str = "lower"
    span: float | None = None  # seconds its timed rounds covered in that run, when known


@dataclass(frozen=True)
class SuiteRun:
    """What one run of a suite reported: its benchmarks and the ones that failed."""

    benchmarks: tuple[BenchmarkResult, ...]
    failed: dict[str, str] = field(default_factory=dict)  # name -> first line of the reason


class SuiteKind(Protocol):
    """One suite runner (pytest-benchmark, asv): how to run it and how to read its output."""

    def output_args(self, out_dir: Path) -> list[str]: ...

    def prepare(
        self, out_dir: Path, argv: tuple[str, ...], cwd: Path, env: dict[str, str]
    ) -> tuple[tuple[str, ...], dict[str, str]]:
        """Files the run needs in ``out_dir``; returns the command and environment to run."""
        ...

    def parse(self, out_dir: Path, result: ProcessResult) -> SuiteRun: ...

    def discover_argv(self, base: tuple[str, ...], out_dir: Path) -> list[str]: ...

    def parse_discovery(self, out_dir: Path, stdout: str) -> list[str]: ...


def suite_kind(kind: str) -> SuiteKind:
    if kind == "pytest-benchmark":
        from perfop.measure.suites.pytest_benchmark import PytestBenchmark

        return PytestBenchmark()
    if kind == "asv":
        from perfop.measure.suites.asv import Asv

        return Asv()
    raise ValueError(f"unknown suite kind {kind!r}")


class Sampler(Protocol):
    """Runs one sample of a workload: the seam between the pair loop and processes."""

    def run(
        self, argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], timeout: float
    ) -> ProcessResult: ...


class BatchSampler(Sampler, Protocol):
    """A sampler that can also run ``count`` consecutive samples of one command at once
    (``perfop run``'s loop; an interleaved comparison alternates commands and uses ``run``)."""

    def run_batch(
        self,
        argv: tuple[str, ...],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        count: int,
        on_result: Callable[[ProcessResult], None],
    ) -> None: ...


class ProcessSampler:
    """One fresh process of the command (``runner.run_process``); ``check_bytes`` is the
    behaviour check's budget of stdout (None: the runner's default)."""

    def __init__(self, check_bytes: int | None = None) -> None:
        self.check_bytes = check_bytes

    def run(
        self, argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], timeout: float
    ) -> ProcessResult:
        from perfop.measure.runner import STDOUT_CHECK_BYTES, run_process

        budget = STDOUT_CHECK_BYTES if self.check_bytes is None else self.check_bytes
        return run_process(argv, cwd=cwd, env=env, timeout=timeout, check_bytes=budget)

    def run_batch(
        self,
        argv: tuple[str, ...],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        count: int,
        on_result: Callable[[ProcessResult], None],
    ) -> None:
        """``count`` fresh processes in a row, one batch of the spawner (``runner.run_batch``)."""
        from perfop.measure.runner import STDOUT_CHECK_BYTES, run_batch

        budget = STDOUT_CHECK_BYTES if self.check_bytes is None else self.check_bytes
        run_batch(
            argv,
            cwd=cwd,
            env=env,
            timeout=timeout,
            count=count,
            on_result=on_result,
            check_bytes=budget,
        )


class SuiteSampler:
    """One run of a benchmark suite: the process, then its result file read into metrics.

    A run that reports at least one benchmark is a sample even when some benchmarks failed
    (pytest exits 1): the failed ones are kept in ``failed`` (name -> reason) and are missing
    from that sample's metrics. A run that reports none is a failed process.
    """

    def __init__(self, kind: str, run_value: str = "min") -> None:
        self.kind = kind
        self.run_value = run_value
        self.suite = suite_kind(kind)
        self.failed: dict[str, str] = {}
        self.seen: set[str] = set()
        self.rounds: dict[str, list[float]] = {}  # every round of every run, per benchmark
        self.spans: dict[str, list[float]] = {}  # per run: the time its rounds covered

    def run(
        self, argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], timeout: float
    ) -> ProcessResult:
        from perfop.measure.runner import run_process

        out_dir = Path(tempfile.mkdtemp(prefix="perfop-suite-"))
        try:
            argv, run_env = self.suite.prepare(out_dir, argv, cwd, dict(env))
            full = (*argv, *self.suite.output_args(out_dir))
            result = run_process(full, cwd=cwd, env=run_env, timeout=timeout)
            if result.timed_out or result.signal is not None:
                return result
            try:
                suite_run = self.suite.parse(out_dir, result)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                if result.ok:
                    return _failed(result, f"the suite wrote no readable results ({exc})")
                # Runners such as asv report their errors on stdout: keep its last line.
                said = [ln for ln in result.stdout_head.splitlines() if ln.strip()][-1:]
                return _failed(result, said[0].strip()[:200] if said else "")
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
        for name, reason in suite_run.failed.items():
            self.failed.setdefault(name, reason)
        if not suite_run.benchmarks:
            return result if not result.ok else _failed(result, "the suite ran no benchmark")
        return self._with_benchmarks(result, suite_run)

    def run_batch(
        self,
        argv: tuple[str, ...],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float,
        count: int,
        on_result: Callable[[ProcessResult], None],
    ) -> None:
        """One suite run after another: a run reads its own result files, and seconds-long
        runs gain nothing from a batch."""
        for _ in range(count):
            on_result(self.run(argv, cwd=cwd, env=env, timeout=timeout))

    def _with_benchmarks(self, result: ProcessResult, suite_run: SuiteRun) -> ProcessResult:
        metrics = {k: v for k, v in result.metrics.items() if k in BUILTIN_METRICS}
        specs = {k: v for k, v in result.metric_specs.items() if k in BUILTIN_METRICS}
        for b in suite_run.benchmarks:
            name = b.name if b.name not in BUILTIN_METRICS else f"bench:{b.name}"
            metrics[name] = run_value(b.rounds, self.run_value) if b.rounds else b.value
            specs[name] = MetricSpec(name, b.unit, "higher" if b.better == "higher" else "lower")
            self.seen.add(name)
            self.rounds.setdefault(name, []).extend(b.rounds)
            if b.span is not None:
                self.spans.setdefault(name, []).append(b.span)
        return dataclasses.replace(
            result,
            exit_code=0,  # some benchmarks may have failed: they are in ``failed``
            metrics=metrics,
            metric_specs=specs,
        )


def _failed(result: ProcessResult, reason: str) -> ProcessResult:
    tail = (result.stderr_tail + "\n" + reason).strip()
    return dataclasses.replace(result, exit_code=result.exit_code or 1, stderr_tail=tail)


def run_value(rounds: tuple[float, ...], how: str) -> float:
    """The value one suite run gives a benchmark from its rounds: ``min`` (default: contention
    only adds time, so the fastest round is the least disturbed), ``median`` or ``mean``."""
    import statistics

    if how == "median":
        return float(statistics.median(rounds))
    if how == "mean":
        return float(statistics.fmean(rounds))
    return float(min(rounds))


SHORT_WINDOW = 0.1  # seconds: rounds covering less in one run give a noisy minimum


def short_windows(
    spans: Mapping[str, list[float]], limit: float = SHORT_WINDOW
) -> list[tuple[str, float]]:
    """Benchmarks whose rounds cover less than ``limit`` seconds in a typical run (median over
    the runs), shortest first. On a shared machine whose speed changes over tenths of a
    second, the minimum of so short a window varies with the machine's state at that moment
    (docs/benchmarks.md, "Benchmark suites"), so their per-run values are noisy."""
    import statistics

    found = [(n, float(statistics.median(v))) for n, v in spans.items() if v]
    return sorted(((n, s) for n, s in found if s < limit), key=lambda item: (item[1], item[0]))


def short_window_notice(workload: str, kind: str, short: list[tuple[str, float]]) -> str:
    """One line naming the benchmarks with short windows and the runner's option to widen it."""
    name, span = short[0]
    others = f" and {len(short) - 1} more" if len(short) > 1 else ""
    option = "--benchmark-max-time=0.1" if kind == "pytest-benchmark" else "a longer sample time"
    return (
        f"{workload}: the rounds of {name}{others} cover only ~{span * 1000:.0f} ms per suite run; "
        f"a minimum over so short a window follows the machine's state, so verdicts need many "
        f"pairs; a longer window (e.g. {option} in args) gives steadier per-run values"
    )


def sampler_for(kind: str, run_value: str = "min", check_bytes: int | None = None) -> BatchSampler:
    if kind in SUITE_KINDS:
        return SuiteSampler(kind, run_value)
    return ProcessSampler(check_bytes)


def discover(
    kind: str, argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> list[str]:
    """The benchmarks a suite contains, by its own runner's discovery (nothing is timed)."""
    from perfop.measure.runner import run_process

    suite = suite_kind(kind)
    out_dir = Path(tempfile.mkdtemp(prefix="perfop-suite-"))
    try:
        argv, run_env = suite.prepare(out_dir, argv, cwd, dict(env))
        full = suite.discover_argv(argv, out_dir)
        result = run_process(full, cwd=cwd, env=run_env, timeout=timeout)
        if not result.ok and result.exit_code != 5:  # pytest: 5 = nothing collected
            raise WorkloadError(
                f"listing the suite failed: {result.describe_failure()}: "
                + (result.stderr_tail.strip().splitlines() or [""])[-1][:200]
            )
        return suite.parse_discovery(out_dir, result.stdout_head)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
