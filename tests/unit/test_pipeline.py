"""The measurement pipeline's stopping and decision logic at the sampler seam (issue 20).

``pipeline.measure_sides`` is what ``compare`` and ``calibrate`` run after the checkouts: set up,
warm up, pairs, decide, finish the runs. Here each side samples through a synthetic ``Sampler``
(samples drawn from a seeded generator, each one advancing a fake clock by its wall time) and
records into a list, so sequential looks, the budget stop, the CPU-time/wall-time choice and wall
time's veto are checked in milliseconds. Every test fails if a process is started.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfop import stats
from perfop.compare import pipeline
from perfop.compare.budget import Budget, budget_settings
from perfop.compare.pairs import CPU, WALL, PairRunner, Side
from perfop.config import LoadedConfig, load_config, resolve_workload
from perfop.errors import WorkloadError
from perfop.measure.worktrees import Checkout
from perfop.model import ProcessResult, RunStatus, Verdict

THRESHOLD = 0.02


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# (rng, side label) -> (cpu seconds, wall seconds) of one run
Draw = Callable[[np.random.Generator, str], tuple[float, float]]


class Synthetic:
    """A ``Sampler`` twin: each run's CPU and wall time come from ``draw``; the fake clock moves
    on by the wall time, as a real process would take it. ``fail_at``: the run (0-based, this
    side's warm-up included) that exits 1."""

    def __init__(
        self,
        clock: FakeClock,
        draw: Draw,
        label: str,
        seed: int,
        fail_at: int | None = None,
        raise_at: tuple[int, BaseException] | None = None,
    ) -> None:
        self.clock, self.draw, self.label = clock, draw, label
        self.rng = np.random.default_rng(seed)
        self.fail_at = fail_at
        self.raise_at = raise_at  # (run, exception): that run raises instead
        self.calls = 0

    def run(
        self, argv: tuple[str, ...], *, cwd: Path, env: Mapping[str, str], timeout: float
    ) -> ProcessResult:
        if self.raise_at is not None and self.calls == self.raise_at[0]:
            raise self.raise_at[1]
        cpu, wall = self.draw(self.rng, self.label)
        self.clock.now += wall
        code = 1 if self.calls == self.fail_at else 0
        self.calls += 1
        return ProcessResult(
            argv=argv,
            exit_code=code,
            signal=None,
            timed_out=False,
            wall_time=wall,
            user_time=cpu,
            sys_time=0.0,
            peak_rss=1,
            metrics={WALL: wall, CPU: cpu},
            stdout_digest="same",
            stderr_tail="boom" if code else "",
        )


class Recorded:
    """A ``pairs.Recorder`` twin: what the store would have been told."""

    def __init__(self) -> None:
        self.results: list[tuple[int, int, ProcessResult]] = []
        self.finished: dict[int, RunStatus] = {}

    def add_result(self, run_id: int, index: int, result: ProcessResult) -> None:
        self.results.append((run_id, index, result))

    def finish_run(
        self,
        run_id: int,
        status: RunStatus,
        metric_specs: Mapping[str, Any] | None = None,
        *,
        contention: Mapping[str, Any] | None = None,
    ) -> None:
        self.finished[run_id] = status


@pytest.fixture
def loaded(tmp_path: Path) -> LoadedConfig:
    """The workload's config (loading it asks git where the repository is: before the guard)."""
    (tmp_path / "perfop.toml").write_text(
        f'threshold = {THRESHOLD}\nseed = 1\n[workloads.w]\ncommand = ["true"]\nwarmup = 1\n'
    )
    return load_config(tmp_path)


@pytest.fixture(autouse=True)
def no_processes(monkeypatch: pytest.MonkeyPatch, loaded: LoadedConfig) -> None:
    """Starting any process fails the test: the seam is the only way samples come in."""

    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError("a unit test of the pipeline started a process")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "posix_spawn", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    monkeypatch.setattr("perfop.measure.runner.launch", refuse)
    monkeypatch.setattr("perfop.measure.runner.run_process", refuse)
    # os.sync before the pairs flushes fresh checkouts; there are none here.
    monkeypatch.setattr(pipeline, "settle_disk", lambda: None)


def _measure(
    loaded: LoadedConfig,
    draw: Draw,
    *,
    max_time: float = 30.0,
    max_pairs: int | None = None,
    stopping: str = "sequential",
    fail_at: int | None = None,
    raise_at: tuple[int, BaseException] | None = None,
    start_errors: str = "raise",
    recorder: Recorded | None = None,
) -> tuple[pipeline.Measured, Recorded, FakeClock, Budget]:
    wl = loaded.workload("w")
    tmp_path = loaded.repo_root
    clock = FakeClock()
    resolved = resolve_workload("w", wl, repo=loaded.repo_root, worktree=tmp_path)
    co = Checkout("base", "HEAD", "0" * 40, tmp_path)
    sides = [
        Side(
            label,
            co,
            resolved,
            {},
            run_id,
            sampler=Synthetic(clock, draw, label, run_id, fail, raised),
        )
        for label, run_id, fail, raised in (
            ("base", 1, None, None),
            ("candidate", 2, fail_at, raise_at),
        )
    ]
    recorder = recorder if recorder is not None else Recorded()
    runner = PairRunner(recorder, sides[0], sides[1], 7, "w", clock=clock)
    settings = budget_settings(
        wl, alpha=loaded.config.alpha, max_time=max_time, max_pairs=max_pairs
    )
    budget = Budget(settings, started=clock(), clock=clock, name="w")
    job = pipeline.Job(
        name="w",
        kind="compare",
        settings={},
        seed=7,
        env_id=0,
        stopping=stopping,  # type: ignore[arg-type]
        start_errors=start_errors,  # type: ignore[arg-type]
    )
    silent = pipeline.Silent()
    measured = pipeline.measure_sides(
        runner,
        recorder,
        loaded,
        job,
        budget,
        progress=silent,
        notices=pipeline.Notices("w", silent),
    )
    return measured, recorder, clock, budget


def _cpu_bound(effect: float, *, wall_effect: float | None = None) -> Draw:
    """CPU time 0.1 s x 0.3% noise x (1 + effect) on the candidate; wall time the same plus up
    to 0.5% waiting (x (1 + wall_effect) on the candidate when given)."""

    def draw(rng: np.random.Generator, label: str) -> tuple[float, float]:
        cand = label == "candidate"
        cpu = 0.1 * float(np.exp(rng.normal(0, 0.003))) * (1 + effect if cand else 1)
        wall = cpu * (1 + abs(float(rng.normal(0, 0.002))))
        if cand and wall_effect is not None:
            wall = wall / (1 + effect) * (1 + wall_effect)
        return cpu, wall

    return draw


def _sleeper(effect: float, noise: float = 0.01) -> Draw:
    """Mostly waiting: CPU time a tenth of wall time; wall 0.1 s x noise x (1 + effect)."""

    def draw(rng: np.random.Generator, label: str) -> tuple[float, float]:
        wall = 0.1 * float(np.exp(rng.normal(0, noise))) * (1 + effect if label != "base" else 1)
        return wall * 0.1, wall

    return draw


def test_a_clear_slowdown_is_decided_at_an_early_look_on_cpu_time(loaded: LoadedConfig) -> None:
    measured, recorder, _, budget = _measure(loaded, _cpu_bound(0.10))
    d = measured.decided
    assert d.verdict == Verdict.SLOWER
    assert d.stop_reason == "decided"
    assert d.decision is not None and (d.decision.metric, d.decision.check) == (CPU, WALL)
    assert not d.decision.vetoed
    # Stopped at an early look, far short of what the 30 s budget would buy.
    assert d.pairs < d.planned_pairs
    assert budget.planned is not None and d.pairs < budget.planned.affordable
    # Every measured pair was recorded on both runs, and both runs ended complete.
    assert len(recorder.results) == 2 * d.pairs
    assert recorder.finished == {1: RunStatus.COMPLETE, 2: RunStatus.COMPLETE}
    assert d.behavior == "same"


def test_a_workload_that_waits_is_decided_on_wall_time(loaded: LoadedConfig) -> None:
    d = _measure(loaded, _sleeper(-0.10))[0].decided
    assert d.verdict == Verdict.FASTER
    assert d.decision is not None and d.decision.metric == WALL and d.decision.check is None
    assert d.decision.cpu_share is not None  # chosen from the first batch's shares, not assumed


def test_wall_time_vetoes_a_cpu_time_verdict_it_contradicts(loaded: LoadedConfig) -> None:
    # CPU time 5% slower, wall time 4% faster (still CPU-bound: cpu/wall 1.09 <= 1.10): CPU time
    # alone would say slower, but wall time's interval does not overlap it: no verdict, and the
    # veto is recorded.
    d = _measure(loaded, _cpu_bound(0.05, wall_effect=-0.04), max_pairs=40)[0].decided
    assert d.decision is not None and d.decision.metric == CPU
    assert d.decision.vetoed
    assert d.verdict == Verdict.INCONCLUSIVE


def test_an_undecidable_comparison_ends_at_its_planned_horizon(loaded: LoadedConfig) -> None:
    # A/A with 10% noise per run and a 2% threshold: neither a change nor equivalence is
    # reachable in 6 s of 0.2 s pairs, so the last look is the plan's, within the deadline.
    measured, _, clock, budget = _measure(loaded, _sleeper(0.0, noise=0.10), max_time=6.0)
    d = measured.decided
    assert d.stop_reason == "planned"
    assert d.verdict == Verdict.INCONCLUSIVE
    assert clock() <= budget.deadline
    assert d.pairs == len(measured.base.results) == len(measured.cand.results) == d.planned_pairs


def _slower_later(after: int) -> Draw:
    """Like ``_sleeper(0.0, noise=0.10)``, but each side's runs take 3x as long after its
    ``after``-th: the horizon planned from the first batch no longer fits the budget."""
    calls = {"base": 0, "candidate": 0}
    noisy = _sleeper(0.0, noise=0.10)

    def draw(rng: np.random.Generator, label: str) -> tuple[float, float]:
        calls[label] += 1
        cpu, wall = noisy(rng, label)
        scale = 3.0 if calls[label] > after else 1.0
        return cpu * scale, wall * scale

    return draw


def test_the_budget_ends_a_plan_that_pairs_outgrew(loaded: LoadedConfig) -> None:
    measured, _, clock, budget = _measure(loaded, _slower_later(8), max_time=6.0)
    d = measured.decided
    assert d.stop_reason == "budget"
    assert d.pairs < d.planned_pairs
    assert d.verdict == Verdict.INCONCLUSIVE
    # The deadline is checked before each pair against the typical pair: at most one overruns.
    assert clock() <= budget.deadline + 0.6


def test_a_pair_cap_ends_the_plan(loaded: LoadedConfig) -> None:
    d = _measure(loaded, _sleeper(0.0, noise=0.10), max_pairs=12)[0].decided
    assert d.pairs == 12
    assert d.stop_reason in ("planned", "budget")
    assert d.verdict == Verdict.INCONCLUSIVE


def test_a_failed_candidate_run_fails_the_workload_and_both_runs(loaded: LoadedConfig) -> None:
    # The candidate's 4th run (1 warm-up, then pairs) exits 1.
    measured, recorder, _, _ = _measure(loaded, _sleeper(0.0), fail_at=3)
    d = measured.decided
    assert d.verdict is None and d.stop_reason == "failed"
    assert d.failure == "candidate side failed: exited with code 1: boom"
    assert recorder.finished == {1: RunStatus.FAILED, 2: RunStatus.FAILED}
    # The failed run is stored (as a failure), not kept as a sample.
    assert any(not r.ok for _, _, r in recorder.results)
    assert all(r.ok for r in measured.cand.results)


def test_a_calibration_spends_the_whole_budget_and_decides_nothing(loaded: LoadedConfig) -> None:
    # A clear effect would stop a comparison at its first look; a calibration measures on.
    measured, _, _, _ = _measure(loaded, _cpu_bound(0.10), max_pairs=30, stopping="budget")
    d = measured.decided
    assert d.pairs == 30 and d.verdict is None and d.failure is None
    assert measured.pair_cost == pytest.approx(0.1 + 0.11, rel=0.02)  # base + candidate


def test_ctrl_c_ends_both_runs_as_interrupted_and_propagates(loaded: LoadedConfig) -> None:
    # compare and calibrate alike (before the one pipeline, calibrate left its runs "running").
    for stopping in ("sequential", "budget"):
        recorder = Recorded()
        with pytest.raises(KeyboardInterrupt):
            _measure(
                loaded,
                _sleeper(0.0),
                stopping=stopping,
                raise_at=(4, KeyboardInterrupt()),
                recorder=recorder,
            )
        assert recorder.finished == {1: RunStatus.INTERRUPTED, 2: RunStatus.INTERRUPTED}


def test_a_command_that_cannot_start_fails_a_calibration_but_stops_a_comparison(
    loaded: LoadedConfig,
) -> None:
    gone = WorkloadError("command not found: 'w'; check the workload's command")
    measured = _measure(
        loaded,
        _sleeper(0.0),
        stopping="budget",
        start_errors="fail",
        raise_at=(2, gone),
    )[0]
    assert measured.decided.failure == gone.message
    with pytest.raises(WorkloadError):
        _measure(loaded, _sleeper(0.0), raise_at=(2, gone))


def _remember_clocks(monkeypatch: pytest.MonkeyPatch, clocks: list[FakeClock]) -> None:
    """Collect every FakeClock made from now on, so a patched step can move the test's clock."""
    real_init = FakeClock.__init__

    def remember(self: FakeClock) -> None:
        real_init(self)
        clocks.append(self)

    monkeypatch.setattr(FakeClock, "__init__", remember)


def _with_costly_planning(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch, *, plan_cost: float, cut_cost: float
) -> tuple[list[float], FakeClock, Budget]:
    """A budget-bound comparison in which computing the plan costs ``plan_cost`` and truncating
    it ``cut_cost`` seconds of the fake clock; also the reserves priced, in order."""
    clocks: list[FakeClock] = []
    reserves: list[float] = []
    real_price = Budget.price_replan

    def price(self: Budget, seconds: float) -> None:
        reserves.append(seconds)
        real_price(self, seconds)

    real_design = pipeline._design
    real_truncated = stats.SequentialDesign.truncated

    def slow_design(*args: Any, **kwargs: Any) -> stats.SequentialDesign:
        clocks[0].now += plan_cost
        return real_design(*args, **kwargs)

    def slow_truncated(self: stats.SequentialDesign, n: int) -> stats.SequentialDesign:
        clocks[0].now += cut_cost
        return real_truncated(self, n)

    monkeypatch.setattr(pipeline, "_design", slow_design)
    monkeypatch.setattr(stats.SequentialDesign, "truncated", slow_truncated)
    monkeypatch.setattr(Budget, "price_replan", price)
    _remember_clocks(monkeypatch, clocks)
    measured, _, clock, budget = _measure(loaded, _sleeper(0.0, noise=0.10), max_time=6.0)
    d = measured.decided
    assert d.verdict == Verdict.INCONCLUSIVE and d.stop_reason == "budget"
    return reserves, clock, budget


def test_replanning_after_the_last_pair_is_kept_within_the_budget(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # When the budget ends the plan early, the plan is truncated after the last pair and its
    # last boundary computed (0.17-0.24 s at ~60 pairs on the 2-core VM while every look was
    # integrated again, and 10 s A/A comparisons ended up to 0.08 s past max_time). Here
    # truncating costs 0.4 s on the fake clock: the last pair must end early enough that the
    # truncation still ends within max_time less the reserve.
    _, clock, budget = _with_costly_planning(loaded, monkeypatch, plan_cost=0.4, cut_cost=0.4)
    assert budget.replan == pytest.approx(0.4)
    assert clock() <= budget.started + budget.effective - budget.reserve + 1e-9


def test_the_reserve_is_what_a_truncation_costs_not_a_whole_plan(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A truncation computes one boundary (~4 ms), a plan every look's (~50-90 ms): reserving a
    # plan's cost cost 1-2 pairs of a 10 s comparison. The reserve is a trial truncation's.
    reserves, clock, budget = _with_costly_planning(
        loaded, monkeypatch, plan_cost=0.4, cut_cost=0.02
    )
    assert reserves == pytest.approx([0.02, 0.02])  # the trial's while pairs ran, the real one's
    assert clock() <= budget.started + budget.effective - budget.reserve + 1e-9


def test_the_analysis_after_the_last_pair_is_kept_within_the_budget(
    loaded: LoadedConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each look's analysis takes time too (at 30 s and ~350 pairs the last look and the final
    # analysis ended 0.08-0.21 s past the deadline, and 4 of 60 comparisons overran 30 s).
    # Here a look costs 0.3 s on the fake clock: the last pair must end early enough that its
    # look, and the final analysis after it, still end within max_time less the reserve.
    look_cost = 0.3
    clocks: list[FakeClock] = []
    real_look = pipeline._look

    def slow_look(*args: Any, **kwargs: Any) -> int:
        clocks[0].now += look_cost
        return real_look(*args, **kwargs)

    monkeypatch.setattr(pipeline, "_look", slow_look)
    _remember_clocks(monkeypatch, clocks)
    measured, _, clock, budget = _measure(loaded, _sleeper(0.0, noise=0.10), max_time=6.0)
    d = measured.decided
    assert d.verdict == Verdict.INCONCLUSIVE and d.pairs > 5
    assert budget.analysis == pytest.approx(look_cost)
    # The last look has ended; two more looks' worth (the final analysis) still fit.
    assert clock() + 2 * look_cost <= budget.started + budget.effective - budget.reserve + 1e-9
