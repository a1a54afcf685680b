"""Change-point detection over a performance history: numbers in, ``ChangePoint`` records out.

E-divisive means with Student's t-test significance, the method of Apache Otava (formerly
DataStax Hunter): overlapping windows are split top-down where the energy distance between the
two sides is largest, as long as a t-test calls the split significant at a loose first-pass level;
then weak change points are removed bottom-up (weakest first, neighbours re-tested over their new,
longer segments) until every survivor meets ``max_pvalue``, ``min_magnitude`` and
``min_segment``. Pure: no I/O, no clock, deterministic. See docs/statistics.md.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


@dataclass(frozen=True)
class ChangePoint:
    """A persistent shift: ``index`` is the first point of the new level."""

    index: int
    mean_before: float
    mean_after: float
    stdev_before: float
    stdev_after: float
    n_before: int
    n_after: int
    pvalue: float

    @property
    def magnitude(self) -> float:
        """Relative change of the mean, after / before - 1 (0.1 = 10% higher)."""
        if self.mean_before == 0:
            return 0.0
        return self.mean_after / self.mean_before - 1.0

    @property
    def confidence(self) -> float:
        """1 - p-value of the t-test between the two segments either side."""
        return 1.0 - self.pvalue

    def _size(self) -> float:
        # Otava's "change magnitude": the larger of the forward and backward relative changes.
        backward = self.mean_before / self.mean_after - 1.0 if self.mean_after else 0.0
        return max(abs(self.magnitude), abs(backward))


class _Prefix:
    """O(1) mean / stdev / t-test of any slice, from prefix sums of the centred series."""

    def __init__(self, values: Array) -> None:
        self.offset = float(values.mean()) if values.size else 0.0
        centred = values - self.offset
        self.s1 = np.concatenate(([0.0], np.cumsum(centred)))
        self.s2 = np.concatenate(([0.0], np.cumsum(centred * centred)))

    def stats(self, start: int, end: int) -> tuple[float, float, int]:
        n = end - start
        total = float(self.s1[end] - self.s1[start])
        mean = total / n
        sq = float(self.s2[end] - self.s2[start])
        var = max(sq - n * mean * mean, 0.0) / (n - 1) if n > 1 else 0.0
        return mean + self.offset, var, n

    def compare(self, start: int, index: int, end: int, *, adjust: bool = True) -> ChangePoint:
        """Test the split of [start, end) at ``index``.

        With ``adjust`` the p-value is Bonferroni-corrected for the end - start - 1 places the
        split could have been put: the index was chosen because it looked most different, and
        without the correction flat noise yields about one false change point per 1000 points.
        """
        positions = max(end - start - 1, 1) if adjust else 1
        mean_l, var_l, n_l = self.stats(start, index)
        mean_r, var_r, n_r = self.stats(index, end)
        return ChangePoint(
            index=index,
            mean_before=mean_l,
            mean_after=mean_r,
            stdev_before=math.sqrt(var_l),
            stdev_after=math.sqrt(var_r),
            n_before=n_l,
            n_after=n_r,
            pvalue=min(1.0, _student_pvalue(mean_l, var_l, n_l, mean_r, var_r, n_r) * positions),
        )


def _student_pvalue(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int) -> float:
    """Two-sided p-value of Student's pooled-variance t-test from summary statistics."""
    from scipy.special import stdtr

    df = n1 + n2 - 2
    if df <= 0:
        return 1.0
    pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / df
    diff = m2 - m1
    scale = max(abs(m1), abs(m2), 1e-300)
    if pooled <= (1e-12 * scale) ** 2:
        return 1.0 if abs(diff) <= 1e-12 * scale else 0.0
    t = abs(diff) / math.sqrt(pooled * (1.0 / n1 + 1.0 / n2))
    return float(min(1.0, 2.0 * stdtr(df, -t)))


def _best_split(x: Array) -> tuple[int, float] | None:
    """Split of ``x`` maximising the E-divisive q-hat statistic (alpha = 1), both sides >= 2."""
    n = x.size
    if n < 4:
        return None
    dist = np.abs(x[:, None] - x[None, :])
    prefix = np.zeros((n + 1, n + 1))
    prefix[1:, 1:] = dist.cumsum(axis=0).cumsum(axis=1)
    taus = np.arange(2, n - 1)
    m = taus.astype(float)
    k = (n - taus).astype(float)
    within_left = prefix[taus, taus]
    cross = prefix[taus, n] - within_left
    within_right = prefix[n, n] - 2.0 * prefix[taus, n] + within_left
    energy = 2.0 * cross / (m * k) - within_left / (m * (m - 1.0)) - within_right / (k * (k - 1.0))
    q = m * k / n * energy
    best = int(np.argmax(q))
    return int(taus[best]), float(q[best])


def _edivisive_window(x: Array, pvalue: float) -> list[int]:
    """Change points of one window by top-down splitting while the t-test says significant."""
    prefix = _Prefix(x)
    bounds = [0, x.size]
    found: list[int] = []
    cache: dict[tuple[int, int], tuple[int, float] | None] = {}
    while True:
        best: tuple[float, int, int, int] | None = None
        for start, end in itertools.pairwise(bounds):
            key = (start, end)
            if key not in cache:
                split = _best_split(x[start:end])
                cache[key] = None if split is None else (split[0] + start, split[1])
            candidate = cache[key]
            if candidate is not None and (best is None or candidate[1] > best[0]):
                best = (candidate[1], candidate[0], start, end)
        if best is None:
            return found
        _, index, start, end = best
        if prefix.compare(start, index, end).pvalue > pvalue:
            return found
        found.append(index)
        bounds = sorted([*bounds, index])


def _split(x: Array, window: int, pvalue: float) -> list[int]:
    step = max(window // 2, 1)
    indexes: set[int] = set()
    start = 0
    while start < x.size:
        end = min(start + window, x.size)
        new = sorted(i + start for i in _edivisive_window(x[start:end], pvalue))
        indexes.update(new)
        if end == x.size:
            break
        start = max(new[-1] if new else 0, start + step)
    return sorted(indexes)


def _merge(
    prefix: _Prefix,
    n: int,
    indexes: list[int],
    *,
    max_pvalue: float,
    min_magnitude: float,
    min_segment: int,
) -> list[ChangePoint]:
    """Drop the weakest change point and re-test its neighbours until all survivors are strong."""
    bounds = [0, *indexes, n]
    points = [prefix.compare(bounds[i], bounds[i + 1], bounds[i + 2]) for i in range(len(indexes))]

    def short(cp: ChangePoint) -> bool:
        return min(cp.n_before, cp.n_after) < min_segment

    while points:
        weak = [cp for cp in points if cp.pvalue > max_pvalue or short(cp)]
        if weak:
            victim = max(weak, key=lambda cp: (cp.pvalue, -min(cp.n_before, cp.n_after)))
        else:
            victim = min(points, key=ChangePoint._size)
            if victim._size() >= min_magnitude:
                return points
        at = points.index(victim)
        del points[at]
        edges = [0, *(cp.index for cp in points), n]
        for j in (at - 1, at):
            if 0 <= j < len(points):
                points[j] = prefix.compare(edges[j], edges[j + 1], edges[j + 2])
    return points


def detect_change_points(
    values: Sequence[float] | Array,
    *,
    window: int = 50,
    max_pvalue: float = 0.01,
    min_magnitude: float = 0.0,
    min_segment: int = 3,
) -> tuple[ChangePoint, ...]:
    """Persistent shifts in ``values`` (in order), each with magnitude and confidence.

    ``window``: points per E-divisive window (consecutive windows overlap by half);
    ``max_pvalue``: significance a change point must keep after merging (Bonferroni-adjusted
    for the choice of split position within its segment);
    ``min_magnitude``: smallest relative change of the mean to report (0.02 = 2%);
    ``min_segment``: points a level must last on both sides to count as persistent, so a
    one-off spike is never reported.
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError("values must be one-dimensional")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite numbers")
    if window < 4:
        raise ValueError("window must be at least 4 points")
    if not 0 < max_pvalue < 1:
        raise ValueError("max_pvalue must be between 0 and 1")
    if x.size < 2 * min_segment:
        return ()
    # Otava's first pass is looser than the final threshold so merging has candidates to judge.
    first_pass = max_pvalue * 10 if max_pvalue < 0.05 else min(max_pvalue * 2, 1.0)
    weak = _split(x, window, first_pass)
    points = _merge(
        _Prefix(x),
        x.size,
        weak,
        max_pvalue=max_pvalue,
        min_magnitude=min_magnitude,
        min_segment=min_segment,
    )
    return tuple(points)
