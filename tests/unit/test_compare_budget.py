"""How many pairs a comparison may take: max_runs when the workload sets it, else max_time."""

from __future__ import annotations

from perfop.compare import UNSET_PAIR_CAP, pair_cap
from perfop.config import WorkloadConfig


def test_an_unset_max_runs_leaves_the_comparison_to_its_time_budget() -> None:
    wl = WorkloadConfig(command="python bench.py")
    assert wl.max_runs == 30  # a plain `perfop run` still takes 30 samples
    assert pair_cap(wl) == UNSET_PAIR_CAP >= 1000


def test_a_configured_max_runs_caps_the_pairs_even_at_its_default_value() -> None:
    assert pair_cap(WorkloadConfig(command="python bench.py", max_runs=12)) == 12
    assert pair_cap(WorkloadConfig(command="python bench.py", max_runs=30)) == 30
