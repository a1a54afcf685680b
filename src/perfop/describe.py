"""Descriptive statistics of one metric over a run's samples: ``summarize`` -> ``Summary``.

Pure, and without NumPy's import for the samples of an ordinary run: up to ``SMALL`` finite
values are summarised in Python with NumPy's own order of operations (its pairwise summation,
its linear percentiles and median), so every statistic is bit-identical to the NumPy
computation used before and above that size (tests/unit/test_describe.py compares the two bit
for bit). NumPy's import is ~0.1-0.15 s of CPU on the 2-core VM, a large share of a
``perfop run`` of a short command (issue 18); more values, or a NaN, an infinity or a negative
zero (whose sign NumPy's partition may place differently), go to NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

STATISTICS = ("median", "mean", "p90", "p95", "p99", "max", "min")
SMALL = 1000  # values summarised in Python; more go to NumPy (their run took longer anyway)
_PW_BLOCK = 128  # NumPy's PW_BLOCKSIZE: below it a block is summed with 8 accumulators
_EXACT_INT = 2**53


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one metric over the samples of one run."""

    n: int
    median: float
    mean: float
    stdev: float
    cv: float
    min: float
    p90: float
    p95: float
    p99: float
    max: float

    def statistic(self, name: str) -> float:
        """Value of a named statistic (one of STATISTICS)."""
        if name not in STATISTICS:
            raise ValueError(f"unknown statistic {name!r}; expected one of {', '.join(STATISTICS)}")
        return float(getattr(self, name))


def summarize(values: Sequence[float]) -> Summary:
    """Summary of ``values``; stdev is the sample (n-1) standard deviation, percentiles linear."""
    plain = _plain(values)
    if plain is None:
        return _summarize_numpy(values)
    n = len(plain)
    mean = pairwise_sum(plain) / n
    stdev = (
        math.sqrt(pairwise_sum([d * d for d in (x - mean for x in plain)]) / (n - 1))
        if n > 1
        else 0.0
    )
    cv = stdev / mean if mean != 0 else math.nan
    ordered = sorted(plain)
    half = n // 2
    median = ordered[half] if n % 2 else (ordered[half - 1] + ordered[half]) / 2
    p90, p95, p99 = (_percentile(ordered, q) for q in (90, 95, 99))
    return Summary(
        n=n,
        median=median,
        mean=mean,
        stdev=stdev,
        cv=cv,
        min=ordered[0],
        p90=p90,
        p95=p95,
        p99=p99,
        max=ordered[-1],
    )


def sums(values: Sequence[float]) -> tuple[float, float]:
    """``(sum, sum of squares)`` of ``values`` as NumPy computes ``arr.sum()`` and
    ``(arr * arr).sum()`` (what ``run_metrics`` stores for pooled means and variances)."""
    plain = _plain(values)
    if plain is None:
        import numpy as np

        arr = np.asarray(values, dtype=float)
        return float(arr.sum()), float((arr * arr).sum())
    return pairwise_sum(plain), pairwise_sum([x * x for x in plain])


def pairwise_sum(values: Sequence[float]) -> float:
    """The sum of float ``values`` in NumPy's order (``np.add.reduce`` of a contiguous
    float64 array): blocks of at most 128 summed with 8 accumulators, halves added pairwise."""
    return _pairwise(values, 0, len(values))


def _pairwise(a: Sequence[float], lo: int, n: int) -> float:
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    if n <= _PW_BLOCK:
        r0, r1, r2, r3, r4, r5, r6, r7 = a[lo : lo + 8]
        end = lo + n - n % 8
        for i in range(lo + 8, end, 8):
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        for i in range(end, lo + n):
            res += a[i]
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise(a, lo, n2) + _pairwise(a, lo + n2, n - n2)


def _percentile(ordered: Sequence[float], q: int) -> float:
    """NumPy's linear percentile (``method="linear"``) of sorted finite values."""
    n = len(ordered)
    virtual = (n - 1) * (q / 100)
    if virtual >= n - 1:  # NumPy takes the last value, with gamma measured from index -1
        below = above = n - 1
        gamma = virtual - -1
    else:
        below = math.floor(virtual)
        above = below + 1
        gamma = virtual - below
    a, b = ordered[below], ordered[above]
    diff = b - a
    return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


def _plain(values: Sequence[float]) -> list[float] | None:
    """``values`` as floats when the Python path reproduces NumPy exactly, else None: at most
    SMALL of them, all finite, no negative zero, integers only where a float holds them."""
    if not 0 < len(values) <= SMALL:
        return None
    out: list[float] = []
    for v in values:
        if isinstance(v, int) and not -_EXACT_INT <= v <= _EXACT_INT:
            return None
        x = float(v)
        if not math.isfinite(x) or (x == 0.0 and math.copysign(1.0, x) < 0):
            return None
        out.append(x)
    return out


def _summarize_numpy(values: Sequence[float]) -> Summary:
    import numpy as np

    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("cannot summarize an empty sample")
    mean = float(arr.mean())
    stdev = float(arr.std(ddof=1)) if arr.size > 1 else 0.0
    cv = stdev / mean if mean != 0 else math.nan
    p90, p95, p99 = (float(v) for v in np.percentile(arr, [90, 95, 99]))
    return Summary(
        n=int(arr.size),
        median=float(np.median(arr)),
        mean=mean,
        stdev=stdev,
        cv=cv,
        min=float(arr.min()),
        p90=p90,
        p95=p95,
        p99=p99,
        max=float(arr.max()),
    )
