"""Simulation of the real stopping rule: error control under optional stopping, and power.

Every comparison is pushed through ``stats.run_sequential`` (the same ``plan``/``decide`` code a
real ``perfop compare`` uses), vectorised over rows. The noise model mimics a shared 2-core VM:
log-normal run-to-run noise, a slow cluster (1 run in 8, 35-40% slower, persistent over a few
runs), rare 1.5-3x outliers, a random-walk drift, and a small order effect within each pair.
The rates asserted here are the ones docs/statistics.md quotes.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from perfop import stats

ALPHA = 0.05


def simulate_log_ratios(
    rng: np.random.Generator,
    rows: int,
    n: int,
    effect: float = 0.0,
    *,
    sigma: float = 0.02,
    slow_p: float = 1 / 8,
    slow_stay: float = 0.5,
    drift_sd: float = 0.002,
    outlier_p: float = 0.01,
    order_effect: float = 0.005,
) -> np.ndarray:
    """``rows`` x ``n`` paired log(candidate/base) for a true multiplicative ``effect``."""
    runs = 2 * n
    eps = rng.normal(0.0, sigma, (rows, runs))
    # Slow cluster: two-state Markov chain, stationary probability slow_p, stays with slow_stay.
    p_enter = slow_p * (1 - slow_stay) / (1 - slow_p)
    state = rng.random(rows) < slow_p
    slow = np.empty((rows, runs), dtype=bool)
    u = rng.random((rows, runs))
    for j in range(runs):
        slow[:, j] = state
        state = np.where(state, u[:, j] < slow_stay, u[:, j] < p_enter)
    eps += slow * np.log(rng.uniform(1.35, 1.40, (rows, runs)))
    eps += (rng.random((rows, runs)) < outlier_p) * np.log(rng.uniform(1.5, 3.0, (rows, runs)))
    eps += np.cumsum(rng.normal(0.0, drift_sd, (rows, runs)), axis=1)
    eps += np.tile([0.0, order_effect], n)  # the second run of a pair is a little slower
    first, second = eps[:, 0::2], eps[:, 1::2]
    candidate_first = rng.random((rows, n)) < 0.5  # perfop randomises the order in each pair
    base = np.where(candidate_first, second, first)
    cand = np.where(candidate_first, first, second) + np.log1p(effect)
    out: np.ndarray = cand - base
    return out


SCENARIOS = {
    "shared-vm": {},
    "gaussian": {"slow_p": 1e-9, "outlier_p": 0.0, "drift_sd": 0.0},
    "heavy-mixture": {"slow_p": 0.25, "outlier_p": 0.05, "sigma": 0.05},
    "drift-and-order": {"drift_sd": 0.02, "order_effect": 0.03},
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize(("threshold", "pairs"), [(0.01, 300), (0.02, 40)])
def test_aa_false_verdict_rate_is_at_most_alpha(
    scenario: str, threshold: float, pairs: int
) -> None:
    # 4 scenarios x 2 budgets x 2,500 = 20,000 A/A comparisons in total.
    # A stable seed: hash() of a str changes with every interpreter (PYTHONHASHSEED).
    rng = np.random.default_rng(zlib.crc32(f"{scenario}:{threshold}".encode()))
    x = simulate_log_ratios(rng, 2_500, pairs, 0.0, **SCENARIOS[scenario])
    design = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    codes, _ = stats.run_sequential(design, x)
    false_rate = float(np.mean((codes == stats.INCREASE) | (codes == stats.DECREASE)))
    assert false_rate <= ALPHA


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize(("threshold", "pairs"), [(1e-4, 10), (0.02, 24)])
def test_aa_false_verdict_rate_at_small_budgets_is_at_most_alpha(
    scenario: str, threshold: float, pairs: int
) -> None:
    """Verdicts are reachable from 5 pairs now; budgets that small must not buy false ones.

    With Tukey-McLaughlin's h - 1 df the interval alone reached 5.6% at 10 pairs under Gaussian
    noise (benchmarks/stats_simulation.py); with the calibrated df neither it nor the rule does."""
    rng = np.random.default_rng(zlib.crc32(f"small:{scenario}:{threshold}:{pairs}".encode()))
    x = simulate_log_ratios(rng, 2_500, pairs, 0.0, **SCENARIOS[scenario])
    design = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    assert design.looks[0] == stats.min_pairs_for_verdict(alpha=ALPHA)
    codes, _ = stats.run_sequential(design, x)
    assert float(np.mean(np.abs(codes) == 1)) <= ALPHA


@pytest.mark.parametrize(
    ("effect", "pairs", "min_rate"),
    [
        # shared-VM noise, threshold 2%: the exact one-sided rank confirmation no longer vetoes
        # clear slowdowns the interval shows (before issue 14: 58% and 92%; docs/statistics.md)
        (0.10, 10, 0.75),
        (0.10, 20, 0.95),
    ],
)
def test_rank_confirmation_keeps_the_power_of_the_interval_at_tight_budgets(
    effect: float, pairs: int, min_rate: float
) -> None:
    rng = np.random.default_rng(1400 + pairs)
    x = simulate_log_ratios(rng, 2_000, pairs, effect)
    design = stats.plan(alpha=ALPHA, threshold=0.02, first=5, max_pairs=pairs)
    codes, _ = stats.run_sequential(design, x)
    assert float(np.mean(codes == stats.INCREASE)) >= min_rate
    assert not np.any(codes == stats.DECREASE)


def test_looking_after_every_pair_without_the_boundary_would_inflate_false_alarms() -> None:
    # The control experiment: the same looks with the fixed-sample 95% interval at each one.
    rng = np.random.default_rng(99)
    x = simulate_log_ratios(rng, 2_500, 100, 0.0, **SCENARIOS["gaussian"])
    design = stats.plan(alpha=ALPHA, threshold=1e-4, first=5, max_pairs=100)
    naive = stats.SequentialDesign(
        alpha=ALPHA,
        threshold=1e-4,
        looks=design.looks,
        z_bounds=tuple(1.959964 for _ in design.looks),
    )
    naive_codes, _ = stats.run_sequential(naive, x)
    codes, _ = stats.run_sequential(design, x)
    naive_rate = np.mean(np.abs(naive_codes) == 1)
    rate = np.mean(np.abs(codes) == 1)
    assert rate <= ALPHA < naive_rate


@pytest.mark.parametrize(
    ("effect", "threshold", "pairs", "min_rate", "max_median_pairs"),
    [
        # the documented rates (docs/statistics.md, "Power"), shared-VM noise model
        (0.05, 0.02, 60, 0.99, 20),
        (-0.05, 0.02, 60, 0.99, 20),
        (0.02, 0.01, 300, 0.95, 60),
        (0.03, 0.01, 300, 0.99, 40),
        (0.20, 0.01, 300, 0.99, 10),
    ],
)
def test_changes_are_detected_at_the_documented_rate(
    effect: float, threshold: float, pairs: int, min_rate: float, max_median_pairs: int
) -> None:
    rng = np.random.default_rng(int(abs(effect) * 1000) + pairs)
    x = simulate_log_ratios(rng, 2_000, pairs, effect)
    design = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    codes, used = stats.run_sequential(design, x)
    want = stats.INCREASE if effect > 0 else stats.DECREASE
    hit = codes == want
    assert hit.mean() >= min_rate
    assert np.median(used[hit]) <= max_median_pairs
    assert not np.any(codes == -want)  # never the wrong direction


# --- equivalence as two one-sided tests (issue 14, point 8b) ---------------------------------


@pytest.mark.parametrize("scenario", ["gaussian", "shared-vm"])
@pytest.mark.parametrize("pairs", [20, 40])
@pytest.mark.parametrize("effect", [0.02, -1 / 51])  # exactly the threshold, either way
def test_a_change_at_the_threshold_is_called_unchanged_at_most_alpha(
    scenario: str, pairs: int, effect: float
) -> None:
    # The equivalence boundary spends alpha per one-sided test (TOST): a true change of the
    # threshold's size is wrongly `unchanged` only when the estimate falls that far the one way.
    rng = np.random.default_rng(zlib.crc32(f"eq:{scenario}:{pairs}:{effect}".encode()))
    x = simulate_log_ratios(rng, 2_500, pairs, effect, **SCENARIOS[scenario])
    design = stats.plan(alpha=ALPHA, threshold=0.02, first=5, max_pairs=pairs)
    codes, _ = stats.run_sequential(design, x)
    assert float(np.mean(codes == stats.EQUIVALENT)) <= ALPHA


@pytest.mark.parametrize(
    ("scenario", "pairs", "gain"), [("gaussian", 20, 0.12), ("shared-vm", 40, 0.10)]
)
def test_tost_equivalence_reaches_unchanged_more_often_than_the_two_sided_interval(
    scenario: str, pairs: int, gain: float
) -> None:
    import dataclasses

    rng = np.random.default_rng(zlib.crc32(f"tost:{scenario}:{pairs}".encode()))
    x = simulate_log_ratios(rng, 2_500, pairs, 0.0, **SCENARIOS[scenario])
    design = stats.plan(alpha=ALPHA, threshold=0.02, first=5, max_pairs=pairs)
    assert all(e < z for e, z in zip(design.eq_bounds, design.z_bounds, strict=True))
    before = dataclasses.replace(design, eq_bounds=())  # equivalence at the directional bound
    now, _ = stats.run_sequential(design, x)
    old, _ = stats.run_sequential(before, x)
    assert float(np.mean(now == stats.EQUIVALENT)) >= float(np.mean(old == stats.EQUIVALENT)) + gain
    assert np.mean(np.abs(now) == 1) <= np.mean(np.abs(old) == 1)  # no more false verdicts


# --- a horizon re-planned from time (issue 14, point 8) --------------------------------------


def _extended(pairs: int, k: int, new_max: int, threshold: float = 0.02) -> stats.SequentialDesign:
    design = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    ext = design.extended(k, new_max)
    # The looks already made keep their boundaries: running the extended design over whole
    # rows is exactly a comparison that re-planned after look k.
    assert ext.looks[: k + 1] == design.looks[: k + 1] and ext.max_pairs == new_max
    assert ext.z_bounds[: k + 1] == design.z_bounds[: k + 1]
    assert ext.eq_bounds[: k + 1] == design.eq_bounds[: k + 1]
    assert ext.cum_alpha[-1] == pytest.approx(ALPHA * stats.ALPHA_MARGIN)
    return ext


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize(("pairs", "k", "new_max"), [(20, 1, 30), (24, 3, 48), (10, 0, 40)])
def test_aa_false_verdicts_stay_at_most_alpha_when_the_horizon_is_extended(
    scenario: str, pairs: int, k: int, new_max: int
) -> None:
    # Pairs that get cheaper than the first batch's leave budget unused at the plan's last look
    # (11 of 20 slowdown comparisons of the 10 s detection run stopped 0.6-2 s early); the
    # extended plan spends the rest of alpha over the new horizon.
    rng = np.random.default_rng(zlib.crc32(f"ext:{scenario}:{pairs}:{k}".encode()))
    x = simulate_log_ratios(rng, 2_500, new_max, 0.0, **SCENARIOS[scenario])
    for threshold in (1e-4, 0.02):
        codes, _ = stats.run_sequential(_extended(pairs, k, new_max, threshold), x)
        assert float(np.mean(np.abs(codes) == 1)) <= ALPHA


@pytest.mark.parametrize("scenario", ["gaussian", "shared-vm"])
@pytest.mark.parametrize("effect", [0.02, -1 / 51])
def test_a_change_at_the_threshold_is_unchanged_at_most_alpha_when_extended(
    scenario: str, effect: float
) -> None:
    rng = np.random.default_rng(zlib.crc32(f"ext-eq:{scenario}:{effect}".encode()))
    x = simulate_log_ratios(rng, 2_500, 40, effect, **SCENARIOS[scenario])
    codes, _ = stats.run_sequential(_extended(20, 2, 40), x)
    assert float(np.mean(codes == stats.EQUIVALENT)) <= ALPHA


def test_an_extended_horizon_buys_the_power_of_its_pairs() -> None:
    # shared-VM noise, a 3% slowdown, threshold 2%: planned for 20 pairs, the budget bought 30.
    rng = np.random.default_rng(1431)
    x = simulate_log_ratios(rng, 2_500, 30, 0.03)
    fixed, _ = stats.run_sequential(stats.plan(alpha=ALPHA, threshold=0.02, max_pairs=20), x)
    ext, _ = stats.run_sequential(_extended(20, 1, 30), x)
    full, _ = stats.run_sequential(stats.plan(alpha=ALPHA, threshold=0.02, max_pairs=30), x)
    found = {
        n: float(np.mean(c == stats.INCREASE))
        for n, c in (("20", fixed), ("ext", ext), ("30", full))
    }
    assert found["ext"] >= found["20"] + 0.10
    assert found["ext"] >= found["30"] - 0.03
    assert not np.any(ext == stats.DECREASE)
    rng = np.random.default_rng(1432)
    aa = simulate_log_ratios(rng, 2_500, 30, 0.0)
    reached = {
        n: float(np.mean(stats.run_sequential(d, aa)[0] == stats.EQUIVALENT))
        for n, d in (
            ("20", stats.plan(alpha=ALPHA, threshold=0.02, max_pairs=20)),
            ("ext", _extended(20, 1, 30)),
        )
    }
    assert reached["ext"] >= reached["20"] + 0.10
