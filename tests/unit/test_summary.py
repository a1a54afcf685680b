"""summarize() against NumPy on fixed data: sample stdev (ddof=1), linear percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from perfop.stats import STATISTICS, summarize

RNG = np.random.default_rng(20240601)
DATASETS = {
    "two": [1.0, 3.0],
    "odd": [0.5, 0.1, 0.9, 0.3, 0.7],
    "even": [4.0, 1.0, 3.0, 2.0],
    "ints": [3, 1, 4, 1, 5, 9, 2, 6],
    "lognormal": list(RNG.lognormal(mean=-3.0, sigma=0.3, size=101)),
    "bimodal": [0.047] * 40 + [0.065] * 6,
    "large-values": list(RNG.normal(2.0e8, 1.0e6, size=37)),
}


@pytest.mark.parametrize("values", DATASETS.values(), ids=DATASETS)
def test_summary_matches_numpy(values: list[float]) -> None:
    arr = np.asarray(values, dtype=float)
    s = summarize(values)
    assert s.n == arr.size
    assert s.median == pytest.approx(np.median(arr), rel=1e-12)
    assert s.mean == pytest.approx(arr.mean(), rel=1e-12)
    assert s.stdev == pytest.approx(arr.std(ddof=1), rel=1e-12)
    assert s.cv == pytest.approx(arr.std(ddof=1) / arr.mean(), rel=1e-12)
    assert s.min == arr.min() and s.max == arr.max()
    for q, got in ((90, s.p90), (95, s.p95), (99, s.p99)):
        assert got == pytest.approx(np.percentile(arr, q, method="linear"), rel=1e-12)
    for name in STATISTICS:
        assert s.statistic(name) == getattr(s, name)


def test_known_values_by_hand() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert (s.median, s.mean, s.min, s.max) == (2.5, 2.5, 1.0, 4.0)
    assert s.stdev == pytest.approx(math.sqrt(5 / 3))
    assert s.p90 == pytest.approx(3.7)  # linear: position 0.9 * (n - 1) = 2.7
    assert s.p95 == pytest.approx(3.85)


def test_single_value_has_zero_spread() -> None:
    s = summarize([0.25])
    assert (s.n, s.median, s.stdev, s.cv, s.min, s.p99, s.max) == (
        1,
        0.25,
        0.0,
        0.0,
        0.25,
        0.25,
        0.25,
    )


def test_zero_mean_gives_nan_cv() -> None:
    assert math.isnan(summarize([-1.0, 1.0]).cv)


def test_empty_and_unknown_statistic_are_errors() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize([])
    with pytest.raises(ValueError, match="unknown statistic 'p50'"):
        summarize([1.0]).statistic("p50")


def test_input_order_does_not_matter() -> None:
    values = DATASETS["lognormal"]
    a, b, c = summarize(values), summarize(sorted(values)), summarize(values[::-1])
    for name in ("n", "median", "min", "max", "p90", "p95", "p99"):
        assert getattr(a, name) == getattr(b, name) == getattr(c, name)
    for name in ("mean", "stdev", "cv"):  # summation order may move the last bits
        assert getattr(a, name) == pytest.approx(getattr(b, name), rel=1e-12)
        assert getattr(a, name) == pytest.approx(getattr(c, name), rel=1e-12)
