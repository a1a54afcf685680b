"""The pair loop of ``compare`` re-plans its horizon when pairs get cheaper (issue 14, point 8).

Pure: a fake clock and a synthetic pair source (``ProcessResult``s of A/A pairs whose cost falls
after the first batch) stand in for processes; ``compare._sequential_pairs`` is the loop a real
comparison runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perfop import stats
from perfop.compare import service as compare
from perfop.compare.budget import PAIR_SLACK, Budget, budget_settings
from perfop.compare.pairs import Side, plan_budget
from perfop.config import load_config
from perfop.model import ProcessResult


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _result(wall: float) -> ProcessResult:
    return ProcessResult(
        argv=("w",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=wall * 0.5,
        sys_time=0.0,
        peak_rss=1,
        metrics={"wall_time": wall, "cpu_time": wall * 0.5},  # not CPU-bound: wall decides
    )


class CheaperLater:
    """A/A pairs with 3% noise per run: ``slow`` seconds each for the first ``first`` pairs
    (warm-up included), ``fast`` seconds after."""

    def __init__(self, clock: FakeClock, *, slow: float, fast: float, first: int) -> None:
        self.clock = clock
        self.slow, self.fast, self.first = slow, fast, first
        self.rng = np.random.default_rng(5)
        self.index = 0
        self.done = 0
        self.pair_walls: list[float] = []
        self.sides = (_side("base"), _side("candidate"))

    def _cost(self) -> float:
        cost = self.slow if self.done < self.first else self.fast
        self.done += 1
        self.clock.now += cost
        return cost

    def warm_up(self, rounds: int) -> float | None:
        cost = None
        for _ in range(rounds):
            cost = self._cost()
        return cost

    def pair(self) -> None:
        self.pair_walls.append(self._cost())
        for side in self.sides:
            side.results.append(_result(0.05 * float(np.exp(self.rng.normal(0, 0.03)))))
        self.index += 1


def _side(label: str) -> Side:
    return Side(label, None, None, {}, 0)  # type: ignore[arg-type]


def test_a_comparison_whose_pairs_got_cheaper_uses_the_budget_they_freed(tmp_path: Path) -> None:
    # 10 s budget; warm-up and the first batch cost 0.4 s a pair, later pairs 0.2 s: the plan
    # made after the first batch (~24 pairs) would stop with ~4 s unused. The loop re-plans the
    # horizon from the clock and measures the pairs the budget now buys.
    (tmp_path / "perfop.toml").write_text(
        'threshold = 0.0001\n[workloads.w]\ncommand = ["true"]\nmax_time = 10\nwarmup = 1\n'
    )
    loaded = load_config(tmp_path)
    wl = loaded.workload("w")
    clock = FakeClock()
    budget = Budget(
        budget_settings(wl, alpha=loaded.config.alpha), started=clock(), clock=clock, name="w"
    )
    runner = CheaperLater(clock, slow=0.4, fast=0.2, first=6)
    plan_budget(runner, budget, wl.warmup)  # type: ignore[arg-type]
    seq = compare._sequential_pairs(
        runner,  # type: ignore[arg-type]
        budget,
        wl,
        loaded,
        None,
        compare._Silent(),
        "w",
    )
    # What the first batch's pairs would have bought: 1 warm-up and 5 pairs at 0.4 s spent 2.4 s.
    first_plan = 5 + int((10.0 - 6 * 0.4) / (0.4 * PAIR_SLACK))
    assert seq.stop_reason != "decided"  # threshold ~0: A/A cannot be called unchanged here
    assert seq.planned > first_plan and seq.design.max_pairs == seq.planned
    assert runner.index > first_plan + 5
    assert clock() - budget.started <= 10.0 + 0.2  # within the budget (one pair of slack)
    # The looks made before the re-plan kept their boundaries.
    original = stats.plan(alpha=0.05, threshold=0.0001, first=5, max_pairs=first_plan)
    assert seq.design.z_bounds[:2] == original.z_bounds[:2]
