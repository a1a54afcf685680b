"""perfop.describe's Python path gives NumPy's statistics bit for bit, and falls back to NumPy
where it could not (large, non-finite or negative-zero samples)."""

from __future__ import annotations

import math
import struct
import subprocess
import sys

import numpy as np
import pytest

from perfop import describe
from perfop.describe import SMALL, Summary, pairwise_sum, summarize, sums
from perfop.store.samples import block_values, encode_block


def _numpy_summary(values: list[float]) -> Summary:
    """What perfop.stats.summarize computed before perfop.describe (NumPy throughout)."""
    arr = np.asarray(values, dtype=float)
    mean = float(arr.mean())
    stdev = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    p90, p95, p99 = (float(v) for v in np.percentile(arr, [90, 95, 99]))
    return Summary(
        n=int(arr.size),
        median=float(np.median(arr)),
        mean=mean,
        stdev=stdev,
        cv=stdev / mean if mean != 0 else math.nan,
        min=float(arr.min()),
        p90=p90,
        p95=p95,
        p99=p99,
        max=float(arr.max()),
    )


def _bits(summary: Summary) -> dict[str, bytes | int]:
    return {
        k: struct.pack("<d", v) if isinstance(v, float) else v for k, v in vars(summary).items()
    }


RNG = np.random.default_rng(18)
# Every size up to 300 covers each branch of NumPy's pairwise summation (< 8, 8 accumulators
# up to 128 with every remainder, halves split on a multiple of 8); then sizes near SMALL.
SIZES = [*range(1, 301), 383, 384, 385, 511, 512, 513, 777, SMALL - 1, SMALL]


def _data(kind: str, n: int) -> list[float]:
    if kind == "timings":
        return list(RNG.lognormal(-3.0, 0.5, n))
    if kind == "large":
        return list(RNG.normal(2.0e8, 1.0e6, n))
    if kind == "wide":  # signs and exponents all over the range: rounding in every sum
        return list(RNG.uniform(-1, 1, n) * 10.0 ** RNG.integers(-150, 150, n))
    if kind == "ties":  # few distinct values: percentiles between equal neighbours
        return list(np.round(RNG.uniform(0, 5, n), 1))
    return [float(x) for x in RNG.integers(0, 10**6, n)]  # "counts": integral floats


@pytest.mark.parametrize("kind", ["timings", "large", "wide", "ties", "counts"])
def test_python_path_equals_numpy_bit_for_bit(kind: str) -> None:
    for n in SIZES:
        values = [float(v) for v in _data(kind, n)]
        assert describe._plain(values) is not None  # the Python path is the one tested
        assert _bits(summarize(values)) == _bits(_numpy_summary(values)), (kind, n)
        arr = np.asarray(values)
        expected = (float(arr.sum()), float((arr * arr).sum()))
        assert [struct.pack("<d", x) for x in sums(values)] == [
            struct.pack("<d", x) for x in expected
        ], (kind, n)


def test_pairwise_sum_is_numpys_not_a_plain_loop() -> None:
    # A sum where the order matters: a plain left-to-right loop and math.fsum both differ.
    values = [1e16, *([1.0] * 200), -1e16]
    assert pairwise_sum(values) == float(np.asarray(values).sum())
    assert pairwise_sum(values) != sum(values)


def test_integers_and_mixed_input() -> None:
    values: list[float] = [3, 1, 4, 1, 5, 9, 2, 6, 2.5]
    assert _bits(summarize(values)) == _bits(_numpy_summary(values))


@pytest.mark.parametrize(
    ("values", "in_python"),
    [
        ([1.0, math.nan, 2.0], False),
        ([1.0, math.inf], False),
        ([-math.inf, 0.0, 1.0], False),
        ([0.0, -0.0, 1.0], False),
        ([-0.0], False),
        ([2**60, 1], False),  # an int a float cannot hold exactly
        ([float(2**60), 1.0], True),  # the same number as a float: exact, kept in Python
        (list(np.linspace(0.1, 1.0, SMALL + 1)), False),
    ],
    ids=["nan", "inf", "-inf", "negative zero", "only -0.0", "big int", "big float", "large"],
)
def test_what_the_python_path_leaves_to_numpy_is_numpys(
    values: list[float], in_python: bool
) -> None:
    assert (describe._plain(values) is not None) is in_python
    with np.errstate(invalid="ignore"):
        assert _bits(summarize(values)) == _bits(_numpy_summary(values))


def test_empty_sample_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize([])


def test_block_values_struct_and_numpy_paths_agree() -> None:
    items = [
        (i, {"a": float(i) / 7, "b": float(i)} if i % 3 else {"b": 1.5}, None) for i in range(12)
    ]
    small = type("Row", (), encode_block(items))
    assert block_values([small], "a") == [float(i) / 7 for i in range(12) if i % 3]
    many = [(i, {"a": float(i) / 7}, None) for i in range(1500)]  # over the struct limit
    large = type("Row", (), encode_block(many))
    assert block_values([large], "a") == [float(i) / 7 for i in range(1500)]


def test_a_small_summary_imports_no_numpy() -> None:
    code = (
        "import sys\n"
        "from perfop.describe import summarize, sums\n"
        "summarize([0.1, 0.2, 0.4]); sums([0.1, 0.2])\n"
        "from perfop.store.samples import summary_rows, encode_block\n"
        "row = type('Row', (), encode_block([(0, {'wall_time': 0.5}, None)]))\n"
        "assert summary_rows(1, [row])[0]['median'] == 0.5\n"
        "print('numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
