"""Pure statistics for perfop: numbers in, numbers or frozen dataclasses out.

No I/O, no clock, no subprocess. Summary statistics for one sample set live here; the paired
A/B estimates, verdicts and stopping rule are documented in docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

STATISTICS = ("median", "mean", "p90", "p95", "p99", "max", "min")


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
