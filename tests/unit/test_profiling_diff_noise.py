"""``profile diff`` knows its noise, on recorded runs: per-function changes come with the spread
of the paired runs and are ``within noise`` when their interval covers zero; the header's total
is the paired CPU-time ratio of the same runs, which points the right way when a loaded machine
stretches wall time."""

from __future__ import annotations

import pytest

from perfop.profiling.diff import NOISE, diff_runs, diff_to_dict, paired_interval
from perfop.profiling.model import HotSpot, ProfilePart, hotspot_id
from perfop.profiling.render import diff_table

FIXED, STEADY, JITTER = "group_tokens", "steady", "jitter"


def _spot(name: str, share: float) -> HotSpot:
    return HotSpot(
        id=hotspot_id("cpu", "app.py", name),
        kind="cpu",
        function=name,
        file="app.py",
        line=1,
        self_pct=share,
        total_pct=share,
        self_value=share,
        total_value=share,
        count=1,
    )


def _run(cpu: float, wall: float, seconds: dict[str, float]) -> ProfilePart:
    """One recorded run: each function's CPU seconds, as py-spy's shares of ``cpu``."""
    spots = tuple(_spot(n, 100.0 * v / cpu) for n, v in seconds.items())
    return ProfilePart("cpu", "py-spy", "s", cpu, wall, None, 100, spots, cpu_time=cpu)


# Recorded shape of a loaded 2-core machine (two CPU burners): the fixed function drops from
# ~1.0 s to ~0.3 s per run; steady moves by +-15% from run to run in either direction; wall time
# is stretched on the candidate's side by the neighbours (it reads slower though it is faster).
BASE = [
    _run(2.0, 3.55, {FIXED: 1.00, STEADY: 0.50, JITTER: 0.02}),
    _run(2.2, 3.40, {FIXED: 1.10, STEADY: 0.58, JITTER: 0.00}),
    _run(1.9, 3.60, {FIXED: 0.95, STEADY: 0.45, JITTER: 0.03}),
]
CAND = [
    _run(1.3, 4.20, {FIXED: 0.30, STEADY: 0.57, JITTER: 0.01}),
    _run(1.2, 4.30, {FIXED: 0.33, STEADY: 0.47, JITTER: 0.03}),
    _run(1.4, 4.27, {FIXED: 0.28, STEADY: 0.52, JITTER: 0.00}),
]


def test_paired_interval_is_a_t_interval_of_the_differences() -> None:
    mean, low, high = paired_interval([1.0, 2.0, 3.0], [1.5, 2.4, 3.8])
    assert mean == pytest.approx(0.5667, abs=1e-4)
    # sd of (0.5, 0.4, 0.8) = 0.2082; t(0.975, 2) = 4.3027; half width 0.5172
    assert (low, high) == (pytest.approx(0.0495, abs=1e-3), pytest.approx(1.0838, abs=1e-3))
    assert paired_interval([1.0], [2.0]) == (1.0, None, None)


def test_unchanged_functions_are_within_noise_and_the_fix_is_the_top_decrease() -> None:
    diff = diff_runs(BASE, CAND, base_label="base", candidate_label="fix")
    fixed, steady, jitter = (diff.row(n) for n in (FIXED, STEADY, JITTER))
    assert fixed is not None and steady is not None and jitter is not None
    assert steady.status == NOISE and steady.ratio_low is not None and steady.ratio_high
    assert steady.ratio_low < 1 < steady.ratio_high
    assert jitter.status == NOISE
    assert fixed.status == "decrease" and fixed.ratio_high is not None and fixed.ratio_high < 0.5
    assert [r.function for r in diff.decreases] == [FIXED]
    assert diff.increases == ()
    assert diff.rows[0].function == FIXED and diff.rows[-1].within_noise
    # The header's total: the paired CPU ratio of the same runs, clearly below 1, although the
    # wall medians (stretched by the neighbours) rose.
    total = diff.total
    assert total is not None and total.metric == "cpu_time"
    assert total.high is not None and total.ratio < total.high < 1.0
    assert diff.candidate_wall > diff.base_wall
    doc = diff_to_dict(diff)
    assert doc["total"]["metric"] == "cpu_time" and doc["total"]["within_noise"] is False
    rows = {r["function"]: r for r in doc["rows"]}  # type: ignore[index]
    assert rows[STEADY]["within_noise"] is True and rows[FIXED]["within_noise"] is False


def test_the_table_says_within_noise_and_shows_the_cpu_total() -> None:
    from rich.console import Console

    console = Console(width=200, color_system=None)
    with console.capture() as cap:
        console.print(diff_table(diff_runs(BASE, CAND, base_label="a", candidate_label="b"), top=9))
    text = cap.get()
    assert "within noise" in text and "cpu 2.000 s -> 1.300 s, x0.6" in text
    steady_line = next(line for line in text.splitlines() if f" {STEADY} " in line)
    assert "within noise" in steady_line
    fixed_line = next(line for line in text.splitlines() if f" {FIXED} " in line)
    assert "decrease" in fixed_line and "[0.2" in fixed_line


def test_a_change_every_pair_shows_is_not_noise_even_with_one_stretched_run() -> None:
    # One base run stretched 3x by a neighbour widens the t-interval past 1, but each of the
    # three pairs shows the fix cutting the time by 5x or more: that is no noise.
    base = [
        _run(2.0, 3.0, {FIXED: 1.0, STEADY: 0.5}),
        _run(2.0, 3.0, {FIXED: 0.25, STEADY: 0.5}),  # py-spy lost most of this run's samples
        _run(2.0, 3.0, {FIXED: 1.0, STEADY: 0.5}),
    ]
    cand = [
        _run(1.2, 2.0, {FIXED: 0.02, STEADY: 0.5}),
        _run(1.2, 2.0, {FIXED: 0.05, STEADY: 0.5}),
        _run(1.2, 2.0, {STEADY: 0.5}),  # too quick for a sample this time
    ]
    diff = diff_runs(base, cand, base_label="a", candidate_label="b")
    fixed = diff.row(FIXED)
    assert fixed is not None and fixed.ratio_high is not None and fixed.ratio_high > 1.0
    assert fixed.status == "decrease" and diff.decreases[0].function == FIXED
