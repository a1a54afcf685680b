"""Change-point detection on fixed synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from perfop.history.changepoint import _best_split, _Prefix, detect_change_points


def _series(*levels: tuple[float, int], sd: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(mean, sd, n) for mean, n in levels])


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_two_shifts_found_at_the_right_points(seed: int) -> None:
    x = _series((1.0, 60), (1.10, 45), (1.04, 70), sd=0.01, seed=seed)
    cps = detect_change_points(x)
    assert [cp.index for cp in cps] == [60, 105]
    up, down = cps
    assert up.magnitude == pytest.approx(0.10, abs=0.01)
    assert down.magnitude == pytest.approx(1.04 / 1.10 - 1, abs=0.01)
    assert up.confidence > 0.999
    assert (up.n_before, up.n_after) == (60, 45)
    assert (down.n_before, down.n_after) == (45, 70)


@pytest.mark.parametrize("seed", range(5))
def test_flat_noisy_series_has_none(seed: int) -> None:
    x = _series((1.0, 500), sd=0.05, seed=100 + seed)
    assert detect_change_points(x) == ()


def test_one_off_spike_is_not_a_persistent_shift() -> None:
    x = _series((1.0, 80), sd=0.01, seed=7)
    x[40] = 1.6
    assert detect_change_points(x) == ()


def test_min_magnitude_filters_small_shifts() -> None:
    x = _series((1.0, 100), (1.01, 100), sd=0.002, seed=4)
    assert [cp.index for cp in detect_change_points(x)] == [100]
    assert detect_change_points(x, min_magnitude=0.02) == ()


def test_shift_at_the_end_needs_min_segment_points() -> None:
    base = _series((1.0, 60), sd=0.01, seed=5)
    assert detect_change_points(np.concatenate([base, [1.3, 1.3]])) == ()
    assert [cp.index for cp in detect_change_points(np.concatenate([base, [1.3] * 4]))] == [60]


def test_long_series_many_windows() -> None:
    levels = [(1.0, 300), (1.2, 400), (0.9, 500), (1.1, 300)]
    x = _series(*levels, sd=0.02, seed=9)
    assert [cp.index for cp in detect_change_points(x)] == [300, 700, 1200]


def test_unadjusted_pvalue_matches_scipy_student_t() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(10, 1, 12), rng.normal(11, 1.5, 9)])
    cp = _Prefix(x).compare(0, 12, 21, adjust=False)
    ref = stats.ttest_ind(x[:12], x[12:], equal_var=True)
    assert cp.pvalue == pytest.approx(ref.pvalue, rel=1e-9)
    assert cp.stdev_before == pytest.approx(np.std(x[:12], ddof=1))
    adjusted = _Prefix(x).compare(0, 12, 21)
    assert adjusted.pvalue == pytest.approx(min(1.0, ref.pvalue * 20), rel=1e-9)


def test_energy_split_on_a_clean_step() -> None:
    x = np.array([1.0, 1.0, 1.1, 0.9, 1.0, 5.0, 5.1, 4.9, 5.0], dtype=float)
    split = _best_split(x)
    assert split is not None
    assert split[0] == 5


def test_degenerate_inputs() -> None:
    assert detect_change_points([]) == ()
    assert detect_change_points([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) == ()
    constant_step = [1.0] * 10 + [2.0] * 10
    assert [cp.index for cp in detect_change_points(constant_step)] == [10]
    with pytest.raises(ValueError, match="finite"):
        detect_change_points([1.0, float("nan")])
    with pytest.raises(ValueError, match="window"):
        detect_change_points([1.0] * 10, window=2)
