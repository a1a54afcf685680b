"""Pure statistics for perfop: numbers in, numbers or frozen dataclasses out.

No I/O, no clock, no subprocess. Summary statistics for one sample set live in perfop.describe
(re-exported here; no NumPy import for an ordinary run's samples); the paired
A/B estimates, verdicts and stopping rule are documented in docs/statistics.md.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perfop.describe import STATISTICS as STATISTICS
from perfop.describe import Summary as Summary
from perfop.describe import summarize as summarize
from perfop.model import Verdict

# --- distribution functions ------------------------------------------------------------------
#
# The decision path uses only scipy.special's ufuncs, which are what scipy.stats' norm and t call
# underneath (identical values): importing scipy.stats took 2.4 s at load 5 on the 2-core VM, and
# its frozen-distribution machinery made ``plan`` take 1.6 s for a 70-pair design, both inside a
# comparison's budget (docs/statistics.md, section 4, "What a look costs"). scipy.special alone
# imports in ~0.35 s there.


def _sp() -> Any:
    import scipy.special

    return scipy.special


def load_special() -> None:
    """Import what boundaries and intervals compute with (SciPy's special functions) now, so
    that timing a computation does not time the one-time import."""
    _sp()


def norm_sf(z: Any) -> Any:
    """Upper tail of the standard normal (``scipy.stats.norm.sf``)."""
    return _sp().ndtr(-np.asarray(z, dtype=float))


def norm_cdf(z: Any) -> Any:
    """``scipy.stats.norm.cdf``."""
    return _sp().ndtr(np.asarray(z, dtype=float))


def norm_isf(p: Any) -> Any:
    """Inverse upper tail of the standard normal (``scipy.stats.norm.isf``)."""
    return -_sp().ndtri(np.asarray(p, dtype=float))


def norm_ppf(q: Any) -> Any:
    """``scipy.stats.norm.ppf``."""
    return _sp().ndtri(np.asarray(q, dtype=float))


def norm_pdf(z: Any) -> Any:
    """``scipy.stats.norm.pdf`` (the same formula)."""
    z = np.asarray(z, dtype=float)
    return np.exp(-(z**2) / 2.0) / _SQRT_2PI


_SQRT_2PI = math.sqrt(2 * math.pi)


def t_sf(x: Any, df: float) -> Any:
    """Upper tail of Student's t (``scipy.stats.t.sf``)."""
    return _sp().stdtr(df, -np.asarray(x, dtype=float))


def t_isf(p: Any, df: float) -> Any:
    """Inverse upper tail of Student's t (``scipy.stats.t.isf``)."""
    return -_sp().stdtrit(df, np.asarray(p, dtype=float))


def average_ranks(a: Any) -> np.ndarray:
    """Ranks 1..n along the last axis, ties at their average rank (``scipy.stats.rankdata``
    with ``axis=-1``, ``method="average"``), for finite values."""
    arr = np.asarray(a, dtype=float)
    n = arr.shape[-1] if arr.ndim else 1
    if arr.ndim == 0 or n == 0:
        return np.ones_like(arr) if arr.ndim == 0 else arr.copy()
    flat = arr.reshape(-1, n)
    order = np.argsort(flat, axis=-1, kind="stable")
    s = np.take_along_axis(flat, order, axis=-1)
    pos = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, dtype=bool)
    starts[:, 1:] = s[:, 1:] != s[:, :-1]
    ends = np.ones(s.shape, dtype=bool)
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=-1)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[:, ::-1], axis=-1)[:, ::-1]
    ranks = np.empty(s.shape, dtype=float)
    np.put_along_axis(ranks, order, (first + last) / 2.0 + 1.0, axis=-1)
    return ranks.reshape(arr.shape)


# --- paired A/B statistics ------------------------------------------------------------------
#
# Everything below works on paired log-ratios x_i = log(candidate_i / base_i). Vectorised
# functions take an array whose last axis is the pairs (shape (..., n)), so the simulation test
# pushes 10,000 comparisons through exactly the code a real comparison uses.

DEFAULT_TRIM = 0.2
DEFAULT_GROWTH = 1.25
DEFAULT_SPENDING = "pocock"
# Share of alpha the boundaries are computed for. The trimmed t-statistics at successive looks are
# a little less correlated than the Brownian model assumes, and the t substitution at small df is
# an approximation even with TRIMMED_DF_FACTOR; the margin absorbs both. With 0.85 the interval
# alone stays below alpha in every simulated A/A cell (docs/statistics.md, section 7);
# tests/unit/test_stats_simulation.py and benchmarks/stats_simulation.py keep it honest.
ALPHA_MARGIN = 0.85
UNDECIDED, INCREASE, DECREASE, EQUIVALENT = 0, 1, -1, 2


def log_ratios(base: Sequence[float], candidate: Sequence[float]) -> np.ndarray:
    """log(candidate/base) per pair; pairs with a non-positive or non-finite value are dropped."""
    b = np.asarray(base, dtype=float)
    c = np.asarray(candidate, dtype=float)
    if b.shape != c.shape:
        raise ValueError(f"unpaired samples: {b.size} base values, {c.size} candidate values")
    keep = (b > 0) & (c > 0) & np.isfinite(b) & np.isfinite(c)
    out: np.ndarray = np.log(c[keep] / b[keep])
    return out


def trimmed_mean_se(
    x: np.ndarray, trim: float = DEFAULT_TRIM
) -> tuple[np.ndarray, np.ndarray, int]:
    """Tukey-McLaughlin trimmed mean, its standard error and degrees of freedom along the last axis.

    ``trim`` is the fraction cut from each end (g = floor(trim * n)); the standard error comes
    from the winsorized variance, df = n - 2g - 1 (Tukey-McLaughlin; intervals and p-values use
    the calibrated ``interval_df``). ``trim=0`` gives the plain mean and t-test SE.
    """
    xs = np.sort(np.asarray(x, dtype=float), axis=-1)
    n = xs.shape[-1]
    g = math.floor(trim * n)
    h = n - 2 * g
    if h < 2:
        raise ValueError(f"need at least {2 * g + 2} pairs to trim {trim:.0%} from each end")
    mean = xs[..., g : n - g].mean(axis=-1)
    if g:
        xs = xs.copy()
        xs[..., :g] = xs[..., g : g + 1]
        xs[..., n - g :] = xs[..., n - g - 1 : n - g]
    var_w = xs.var(axis=-1, ddof=1)
    se = np.sqrt((n - 1) * var_w / (h * (h - 1)))
    return mean, se, h - 1


def signed_rank_z(x: np.ndarray) -> np.ndarray:
    """Standardised Wilcoxon signed-rank statistic along the last axis.

    Zeros count half (zero_method="zsplit"), ties get average ranks with the tie-corrected
    variance, and a continuity correction of 0.5 is applied; positive z means x tends above 0.
    Matches ``scipy.stats.wilcoxon(x, zero_method="zsplit", correction=True, method="approx")``.
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    a = np.abs(x)
    ranks = average_ranks(a)
    w_plus = (ranks * (x > 0)).sum(axis=-1) + 0.5 * (ranks * (x == 0)).sum(axis=-1)
    mean = n * (n + 1) / 4.0
    var = np.full(w_plus.shape, n * (n + 1) * (2 * n + 1) / 24.0)
    sa = np.sort(a, axis=-1)
    tied = (np.diff(sa, axis=-1) == 0).any(axis=-1)
    for idx in zip(*np.nonzero(np.atleast_1d(tied)), strict=False):
        row = sa[idx] if sa.ndim > 1 else sa
        _, counts = np.unique(row, return_counts=True)
        correction = float((counts**3 - counts).sum()) / 48.0
        if var.ndim:
            var[idx] -= correction
        else:
            var = var - correction
    d = w_plus - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, (d - 0.5 * np.sign(d)) / np.sqrt(np.maximum(var, 1e-300)), 0.0)
    return np.asarray(z, dtype=float)


# Largest pair count at which the signed-rank p-value is computed exactly (by convolution of the
# sign-flip distribution; O(n^3) per row with ties). Above it the normal approximation with the
# same conditional moments is used: at 50 pairs it is within 0.002 of the exact p (800 samples).
EXACT_RANK_MAX_PAIRS = 50


@functools.lru_cache(maxsize=64)
def _untied_null_sf(n: int) -> np.ndarray:
    """P(W+ >= w) for w = 0..n(n+1)/2 under H0, ranks 1..n (no ties, no zeros)."""
    return _null_sf(tuple(range(1, n + 1)))


def _null_sf(weights: tuple[int, ...]) -> np.ndarray:
    """P(S >= s) for s = 0..sum(weights), S = sum of weights each kept with probability 1/2."""
    dist = np.zeros(sum(weights) + 1)
    dist[0] = 1.0
    top = 0
    for w in weights:  # each step halves: exact binary fractions, no overflow
        shifted = np.zeros_like(dist)
        shifted[w : top + w + 1] = dist[: top + 1]
        dist = 0.5 * (dist + shifted)
        top += w
    sf: np.ndarray = np.minimum(np.cumsum(dist[::-1])[::-1], 1.0)
    return sf


def signed_rank_p(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Wilcoxon signed-rank p-values (above 0, below 0) along the last axis.

    The reference distribution is the sign-flip permutation distribution conditional on |x|:
    ranks of |x| over all pairs (average ranks for ties), zeros keep their rank but contribute to
    neither side (Pratt). Exact, by convolution, up to EXACT_RANK_MAX_PAIRS pairs; above that the
    normal approximation with the exact conditional mean and variance and a continuity
    correction of 0.5. Without ties or zeros this is ``scipy.stats.wilcoxon(x,
    alternative="greater"|"less", method="exact")``; the smallest possible p is 2**-n.
    """
    x = np.asarray(x, dtype=float)
    n = x.shape[-1]
    # Doubled average ranks are integers, so sums of them index an exact distribution.
    r2 = np.rint(2 * average_ranks(np.abs(x))).astype(np.int64)
    s_up = (r2 * (x > 0)).sum(axis=-1)
    s_down = (r2 * (x < 0)).sum(axis=-1)
    if n > EXACT_RANK_MAX_PAIRS:
        live = r2 * (x != 0)
        mean = live.sum(axis=-1) / 2.0
        sd = np.sqrt((live.astype(float) ** 2).sum(axis=-1)) / 2.0
        with np.errstate(divide="ignore", invalid="ignore"):
            p_up = np.where(sd > 0, norm_sf((s_up - mean - 1.0) / sd), 1.0)
            p_down = np.where(sd > 0, norm_sf((s_down - mean - 1.0) / sd), 1.0)
        return np.asarray(p_up, dtype=float), np.asarray(p_down, dtype=float)
    flat_r2 = r2.reshape(-1, n)
    flat_x = x.reshape(-1, n)
    up = s_up.reshape(-1)
    down = s_down.reshape(-1)
    p_up = np.empty(up.shape, dtype=float)
    p_down = np.empty(down.shape, dtype=float)
    plain = (flat_x != 0).all(axis=-1) & (np.sort(flat_r2, axis=-1) == 2 * np.arange(1, n + 1)).all(
        axis=-1
    )
    if plain.any():
        sf = _untied_null_sf(n)
        p_up[plain] = sf[up[plain] // 2]
        p_down[plain] = sf[down[plain] // 2]
    for i in np.flatnonzero(~plain):
        weights = tuple(int(w) for w, v in zip(flat_r2[i], flat_x[i], strict=True) if v != 0)
        sf = _null_sf(weights)
        p_up[i] = sf[up[i]]
        p_down[i] = sf[down[i]]
    shape = s_up.shape
    return p_up.reshape(shape), p_down.reshape(shape)


def hodges_lehmann_above(x: np.ndarray, delta: float) -> np.ndarray:
    """Whether the Hodges-Lehmann estimate of x lies above ``delta``, along the last axis.

    Uses Tukey's identity: the signed-rank sum W+ of (x - delta) counts the positive Walsh
    averages, so HL > delta exactly when W+ exceeds half of the n(n+1)/2 Walsh averages. This
    costs a sort instead of the n^2 Walsh averages.
    """
    y = np.asarray(x, dtype=float) - delta
    n = y.shape[-1]
    ranks = average_ranks(np.abs(y))
    w_plus = (ranks * (y > 0)).sum(axis=-1)
    return np.asarray(w_plus > n * (n + 1) / 4.0)


def hodges_lehmann(
    x: Sequence[float] | np.ndarray, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Hodges-Lehmann estimate of a 1-D sample with its Wilcoxon (normal-approximation) interval."""
    arr = np.asarray(x, dtype=float)
    n = arr.size
    if n == 0:
        return math.nan, math.nan, math.nan
    if n > 3000:  # keep the O(n^2) Walsh averages bounded: every k-th pair, order preserved
        arr = arr[:: math.ceil(n / 3000)]
        n = arr.size
    i, j = np.triu_indices(n)
    walsh = np.sort((arr[i] + arr[j]) / 2.0)
    m = walsh.size
    est = float(np.median(walsh))
    z = float(norm_ppf(1 - alpha / 2))
    k = math.floor(m / 2.0 - z * math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0))
    if k < 0:
        return est, float(walsh[0]), float(walsh[-1])
    return est, float(walsh[k]), float(walsh[m - 1 - k])


# --- group-sequential error control ---------------------------------------------------------


def spent_alpha(kind: str, t: float, alpha: float) -> float:
    """Cumulative two-sided alpha spent at information fraction ``t`` (Lan-DeMets family).

    ``pocock``: alpha*ln(1+(e-1)t); ``obf``: 2-2*Phi(z_{1-alpha/2}/sqrt(t));
    ``power:<rho>``: alpha*t**rho.
    """
    t = min(max(t, 0.0), 1.0)
    if t <= 0:
        return 0.0
    if kind == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    if kind == "obf":
        return float(2 - 2 * norm_cdf(norm_ppf(1 - alpha / 2) / math.sqrt(t)))
    if kind.startswith("power:"):
        return float(alpha * t ** float(kind.split(":", 1)[1]))
    raise ValueError(f"unknown spending function {kind!r}; expected pocock, obf or power:<rho>")


@dataclass(frozen=True, eq=False)
class Region:
    """The continuation region after one look of the boundaries' recursion: the score's grid
    there and its sub-density times the cell width (the chance of having come that far without
    crossing), with the information and the cumulative alpha of that look. The next look's
    boundary depends on the past looks only through this, so a plan that keeps its first looks
    (truncated, extended) continues from it instead of integrating them again."""

    info: float
    spent: float
    grid: np.ndarray
    weights: np.ndarray


def group_sequential_bounds(
    info: Sequence[float], cum_alpha: Sequence[float], *, grid: int = 600
) -> tuple[float, ...]:
    """Two-sided z boundaries c_k for looks at information ``info`` (e.g. pair counts).

    Under H0 the score S_k ~ Brownian motion at times info[k]; c_k is chosen so that the chance of
    first crossing |S_k| >= c_k*sqrt(info[k]) at look k equals cum_alpha[k] - cum_alpha[k-1]
    (Armitage-McPherson-Rowe recursive integration on a grid of the continuation region).
    """
    return sequential_bounds(info, cum_alpha, grid=grid)[0]


def sequential_bounds(
    info: Sequence[float],
    cum_alpha: Sequence[float],
    *,
    grid: int = 600,
    known: Sequence[float] = (),
    regions: Sequence[Region] = (),
) -> tuple[tuple[float, ...], tuple[Region, ...]]:
    """``group_sequential_bounds`` with the continuation regions it integrated: the boundaries
    of every look and the region after every look but the last (no look follows it).

    ``known`` and ``regions`` are the boundaries and regions of the first looks of an earlier
    call on the same ``info`` and ``cum_alpha`` prefix (and ``grid``): the recursion continues
    after them, and the result is the same as integrating from the first look."""
    if len(regions) != len(known) or len(known) >= len(info):
        raise ValueError("known looks must have their regions and leave a look to compute")
    bounds, out = list(known), list(regions)
    prev = out[-1] if out else None
    last = len(info) - 1
    for k in range(len(known), len(info)):
        n_k, a_k = float(info[k]), float(cum_alpha[k])
        c, bb = _look_bound(prev, n_k, a_k)
        bounds.append(c)
        if k < last:
            prev = _region_after(prev, n_k, a_k, bb, grid)
            out.append(prev)
    return tuple(bounds), tuple(out)


def _look_bound(prev: Region | None, n_k: float, a_k: float) -> tuple[float, float]:
    """The z boundary of a look after ``prev`` (None: the first look), and the half-width of the
    score's continuation region it leaves."""
    step = a_k - (prev.spent if prev else 0.0)
    if prev is None:
        c = float(norm_isf(step / 2)) if step > 0 else math.inf
        b = c * math.sqrt(n_k)
        return c, (b if math.isfinite(b) else 10 * math.sqrt(n_k))
    if step <= 0:
        return math.inf, 10 * math.sqrt(n_k)
    sd = math.sqrt(n_k - prev.info)
    s_prev, w_prev = prev.grid, prev.weights

    def exit_prob(b: float) -> float:
        return float((w_prev * (norm_cdf((-b - s_prev) / sd) + norm_sf((b - s_prev) / sd))).sum())

    lo, hi = 0.0, 40 * math.sqrt(n_k)
    if exit_prob(lo) <= step:
        hi = lo
    for _ in range(80):
        mid_b = (lo + hi) / 2
        if exit_prob(mid_b) > step:
            lo = mid_b
        else:
            hi = mid_b
    return hi / math.sqrt(n_k), hi


def _region_after(prev: Region | None, n_k: float, a_k: float, bb: float, grid: int) -> Region:
    """The continuation region (-bb, bb) of a look and the sub-density carried into it."""
    edges = np.linspace(-bb, bb, grid + 1)
    mid = (edges[:-1] + edges[1:]) / 2
    if prev is None:
        w = norm_pdf(mid / math.sqrt(n_k)) / math.sqrt(n_k) * (edges[1] - edges[0])
        return Region(n_k, max(0.0, a_k), mid, w)
    sd = math.sqrt(n_k - prev.info)
    # The Gaussian transition kernel, built in place (a 600 x 600 matrix per look).
    kernel = np.subtract.outer(mid, prev.grid)
    kernel /= sd
    np.square(kernel, out=kernel)
    kernel *= -0.5
    np.exp(kernel, out=kernel)
    dens = kernel @ prev.weights / (sd * _SQRT_2PI)
    return Region(n_k, max(prev.spent, a_k), mid, dens * (edges[1] - edges[0]))


def look_schedule(first: int, max_pairs: int, growth: float = DEFAULT_GROWTH) -> tuple[int, ...]:
    """Pair counts at which the data are analysed: first, then x``growth`` each time, then max."""
    first = max(1, min(first, max_pairs))
    looks = [first]
    while looks[-1] < max_pairs:
        nxt = max(looks[-1] + 1, math.ceil(looks[-1] * growth))
        looks.append(min(nxt, max_pairs))
    return tuple(looks)


@dataclass(frozen=True)
class SequentialDesign:
    """The adaptive-stopping plan of one comparison: where to look and how strict each look is.

    ``looks`` are pair counts; ``z_bounds[k]`` is the two-sided normal boundary at look k from the
    Lan-DeMets spending function over information fraction looks[k]/looks[-1]. The last look
    always spends what is left of ``alpha``. ``eq_bounds[k]`` is the boundary of the equivalence
    (``unchanged``) interval: the same spending at twice the level, so each of its two one-sided
    tests (TOST) spends ``alpha`` (docs/statistics.md, section 3); empty means ``z_bounds``.
    """

    alpha: float
    threshold: float
    looks: tuple[int, ...]
    z_bounds: tuple[float, ...]
    trim: float = DEFAULT_TRIM
    spending: str = DEFAULT_SPENDING
    eq_bounds: tuple[float, ...] = ()
    # Cumulative two-sided alpha spent through each look (the directional boundaries'; the
    # equivalence ones spend twice it). Kept so a truncated or extended plan keeps what its
    # past looks spent exactly; empty for a hand-built design.
    cum_alpha: tuple[float, ...] = ()
    growth: float = DEFAULT_GROWTH
    # The boundaries' continuation regions after each look but the last (directional, then
    # equivalence), so a truncated or extended plan computes only its new looks: truncating a
    # 70-pair plan after the last pair took 0.17-0.24 s inside a 10 s budget when every look was
    # integrated again (docs/statistics.md, section 4). Empty for a hand-built design.
    z_regions: tuple[Region, ...] = field(default=(), compare=False, repr=False)
    eq_regions: tuple[Region, ...] = field(default=(), compare=False, repr=False)

    def eq_bound(self, k: int) -> float:
        """The equivalence boundary at look k."""
        return self.eq_bounds[k] if self.eq_bounds else self.z_bounds[k]

    @property
    def delta(self) -> float:
        """The practical threshold on the log scale: log(1 + threshold)."""
        return math.log1p(self.threshold)

    @property
    def max_pairs(self) -> int:
        return self.looks[-1]

    def truncated(self, n_final: int) -> SequentialDesign:
        """The same plan ending early at ``n_final`` pairs, spending the remaining alpha there."""
        if n_final >= self.max_pairs:
            return self
        kept = [n for n in self.looks if n < n_final]
        if not self.cum_alpha:
            return plan(
                alpha=self.alpha,
                threshold=self.threshold,
                looks=(*kept, n_final),
                trim=self.trim,
                spending=self.spending,
                planned_max=self.max_pairs,
            )
        budget = self.alpha * ALPHA_MARGIN
        return self._with((*kept, n_final), (*self.cum_alpha[: len(kept)], budget), len(kept))

    def extended(self, k: int, new_max: int) -> SequentialDesign:
        """The plan after look ``k`` (undecided) when the budget turned out to buy ``new_max``
        pairs instead of ``max_pairs``: looks 0..k and the alpha they spent stay as they were;
        the looks after k follow the geometric schedule up to ``new_max`` and spend what is
        left in proportion to the spending function over ``n / new_max``, the last spending
        all of it. The total spent is still ``alpha'``: the error control holds whatever the
        new horizon, as long as the horizon comes from time, not from the data (Lan-DeMets
        spending with a re-estimated maximum). No-op for ``k`` at or past the last look, or a
        ``new_max`` not beyond the current plan."""
        last = len(self.looks) - 1
        if k >= last or new_max <= self.max_pairs or not self.cum_alpha:
            return self
        n_k = self.looks[k]
        future = [n for n in look_schedule(n_k, new_max, self.growth) if n > n_k]
        budget = self.alpha * ALPHA_MARGIN
        c_k = self.cum_alpha[k]
        s_k = spent_alpha(self.spending, n_k / new_max, 1.0)
        s_1 = spent_alpha(self.spending, 1.0, 1.0)
        share = [(spent_alpha(self.spending, n / new_max, 1.0) - s_k) / (s_1 - s_k) for n in future]
        cum = [c_k + (budget - c_k) * f for f in share]
        cum[-1] = budget
        return self._with((*self.looks[: k + 1], *future), (*self.cum_alpha[: k + 1], *cum), k + 1)

    def _with(self, looks: Sequence[int], cum: Sequence[float], kept: int) -> SequentialDesign:
        """This plan's first ``kept`` looks (same pairs, same alpha spent), then ``looks[kept:]``
        spending ``cum[kept:]``: the kept looks' boundaries and regions are reused, so only the
        new looks are integrated (the same numbers as integrating all of them)."""
        reuse = min(kept, len(self.z_regions), len(self.eq_regions))
        return _design(
            alpha=self.alpha,
            threshold=self.threshold,
            looks=tuple(looks),
            cum=cum,
            trim=self.trim,
            spending=self.spending,
            growth=self.growth,
            prefix=self if reuse == kept else None,
            kept=kept,
        )

    def nominal_level(self, k: int) -> float:
        """Two-sided nominal p-value threshold at look k (for reporting)."""
        return float(2 * norm_sf(self.z_bounds[k]))


def plan(
    *,
    alpha: float,
    threshold: float,
    first: int = 5,
    max_pairs: int = 30,
    growth: float = DEFAULT_GROWTH,
    trim: float = DEFAULT_TRIM,
    spending: str = DEFAULT_SPENDING,
    looks: Sequence[int] | None = None,
    planned_max: int | None = None,
) -> SequentialDesign:
    """Build a SequentialDesign; ``looks`` overrides the geometric schedule.

    ``planned_max`` is the pair count that information fractions are measured against (default:
    the last look). Looks before the last spend alpha by the spending function; the last look
    spends all that remains. The geometric schedule's first look is never below
    ``min_pairs_for_verdict(alpha=alpha, trim=trim)`` (unless ``max_pairs`` is smaller).
    """
    # A look before a directional verdict is possible would spend alpha on nothing but a rare
    # equivalence, so the schedule starts at the verdict floor.
    min_pairs = min_pairs_for_verdict(alpha=alpha, trim=trim)
    sched = (
        tuple(looks)
        if looks is not None
        else look_schedule(max(first, min_pairs), max_pairs, growth)
    )
    if any(b <= a for a, b in itertools.pairwise(sched)) or sched[0] < 1:
        raise ValueError(f"look schedule must be increasing positive pair counts, got {sched}")
    total = planned_max or sched[-1]
    budget = alpha * ALPHA_MARGIN
    cum = [spent_alpha(spending, n / total, budget) for n in sched]
    cum[-1] = budget
    return _design(
        alpha=alpha,
        threshold=threshold,
        looks=sched,
        cum=cum,
        trim=trim,
        spending=spending,
        growth=growth,
    )


def _design(
    *,
    alpha: float,
    threshold: float,
    looks: tuple[int, ...],
    cum: Sequence[float],
    trim: float,
    spending: str,
    growth: float,
    prefix: SequentialDesign | None = None,
    kept: int = 0,
) -> SequentialDesign:
    """The design whose looks spend ``cum`` (cumulative two-sided alpha) in all. With a
    ``prefix`` whose first ``kept`` looks and spending ``looks`` and ``cum`` share, those looks'
    boundaries and regions are taken from it and the recursion continues after them."""
    cum = [float(c) for c in np.maximum.accumulate(np.asarray(cum, dtype=float))]
    # Equivalence is two one-sided claims (no larger than +d, no smaller than -d), each wrong only
    # in its own direction, so its two-sided boundary is spent at 2 x the budget (TOST: the
    # 1 - 2 alpha interval of a fixed sample).
    eq_cum = [min(2 * c, 0.5) for c in cum]
    kept = kept if prefix is not None else 0
    z, z_regions = sequential_bounds(
        looks,
        cum,
        known=prefix.z_bounds[:kept] if prefix else (),
        regions=prefix.z_regions[:kept] if prefix else (),
    )
    eq, eq_regions = sequential_bounds(
        looks,
        eq_cum,
        known=prefix.eq_bounds[:kept] if prefix else (),
        regions=prefix.eq_regions[:kept] if prefix else (),
    )
    return SequentialDesign(
        alpha=alpha,
        threshold=threshold,
        looks=looks,
        z_bounds=z,
        trim=trim,
        spending=spending,
        eq_bounds=eq,
        cum_alpha=tuple(cum),
        growth=growth,
        z_regions=z_regions,
        eq_regions=eq_regions,
    )


def _min_pairs(trim: float) -> int:
    """Fewest pairs with a trimmed mean of >= 3 kept values (so the interval has df >= 2)."""
    n = 3
    while n - 2 * math.floor(trim * n) < 3:
        n += 1
    return n


def min_pairs_for_verdict(*, alpha: float, trim: float = DEFAULT_TRIM) -> int:
    """Smallest pair count at which ``decide`` can return INCREASE or DECREASE at ``alpha``.

    The trimmed-mean interval needs ``_min_pairs(trim)`` pairs (3 at the default trim); the rank
    confirmation needs a one-sided signed-rank p <= alpha, and the smallest p n pairs can give
    (all of one sign) is 2**-n: 5 pairs at alpha 0.05, 7 at 0.01, 4 at 0.10.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    n = _min_pairs(trim)
    # The all-one-sign p of n untied pairs (what signed_rank_p gives them), without SciPy: the
    # planner asks this before anything is measured, and importing scipy.stats took up to 3.4 s
    # on a loaded machine (issue 18).
    while float(_untied_null_sf(n)[-1]) > alpha:
        n += 1
    return n


def min_pairs_for_equivalence(*, alpha: float, trim: float = DEFAULT_TRIM) -> int:
    """Smallest pair count at which ``decide`` can return EQUIVALENT.

    Equivalence needs only the trimmed-mean interval (no rank check), so its floor is the pairs
    that interval needs whatever ``alpha`` is (3 at the default trim); ``alpha`` is accepted so
    both floors are called alike.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    return _min_pairs(trim)


# Tukey-McLaughlin's df = h - 1 makes the trimmed t liberal under Gaussian noise: its tails are
# 1.1-1.6x the nominal ones at 5-24 pairs (p = 0.01-0.002, where sequential boundaries sit). The
# df whose t quantiles match the simulated ones is 0.81-0.92 (h - 1) at n = 5..60, nearly the
# same at every level from 0.05 to 0.002 (400,000 draws per n); 0.85 (h - 1) is used whenever
# pairs are trimmed (docs/statistics.md, section 2). Untrimmed (g = 0), the t-test's n - 1 is exact.
TRIMMED_DF_FACTOR = 0.85


def interval_df(n: int, trim: float = DEFAULT_TRIM) -> float:
    """Degrees of freedom of the trimmed t used by intervals and p-values for ``n`` pairs."""
    g = math.floor(trim * n)
    h = n - 2 * g
    return float(h - 1) if g == 0 else TRIMMED_DF_FACTOR * (h - 1)


def t_bound(z_bound: float, df: float) -> float:
    """The t quantile with the same two-sided tail probability as the normal boundary."""
    if not math.isfinite(z_bound):
        return math.inf
    return float(t_isf(norm_sf(z_bound), df))


def decide(
    x: np.ndarray,
    *,
    z_bound: float,
    threshold: float,
    alpha: float,
    trim: float = DEFAULT_TRIM,
    z_eq: float | None = None,
) -> np.ndarray:
    """Decision codes for log-ratio rows ``x`` (shape (..., n)) at one look.

    INCREASE / DECREASE: the repeated confidence interval of the trimmed mean excludes 0, the
    estimate lies beyond log(1+threshold) in that direction, and the ranks confirm the direction:
    the one-sided signed-rank p-value in that direction (``signed_rank_p``, exact for small n) is
    at most ``alpha`` and the Hodges-Lehmann estimate lies beyond the threshold too. EQUIVALENT:
    the whole equivalence interval (boundary ``z_eq``, default ``z_bound``; a design's
    ``eq_bound``) lies within +/-log(1+threshold). Otherwise UNDECIDED. The interval alone
    controls the error rate; the rank check only vetoes (docs/statistics.md, section 3).
    """
    x = np.asarray(x, dtype=float)
    delta = math.log1p(threshold)
    mean, se, _ = trimmed_mean_se(x, trim)
    df = interval_df(x.shape[-1], trim)
    half = t_bound(z_bound, df) * se
    lo, hi = mean - half, mean + half
    half_eq = half if z_eq is None else t_bound(z_eq, df) * se
    p_up, p_down = signed_rank_p(x)
    up = (lo > 0) & (mean > delta) & (p_up <= alpha) & hodges_lehmann_above(x, delta)
    down = (hi < 0) & (mean < -delta) & (p_down <= alpha) & hodges_lehmann_above(-x, delta)
    equivalent = (mean - half_eq > -delta) & (mean + half_eq < delta)
    out = np.where(
        up, INCREASE, np.where(down, DECREASE, np.where(equivalent, EQUIVALENT, UNDECIDED))
    )
    return np.asarray(out, dtype=int)


def run_sequential(design: SequentialDesign, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Apply the stopping rule to whole rows of pre-drawn log-ratios (shape (rows, >= max_pairs)).

    Returns (decision code, pairs used) per row; rows undecided at the last look get UNDECIDED.
    This is the loop ``compare`` runs one pair batch at a time, vectorised for simulation.
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    codes = np.zeros(x.shape[0], dtype=int)
    used = np.full(x.shape[0], design.max_pairs, dtype=int)
    open_rows = np.arange(x.shape[0])
    for k, (n, zb) in enumerate(zip(design.looks, design.z_bounds, strict=True)):
        if open_rows.size == 0:
            break
        got = decide(
            x[open_rows, :n],
            z_bound=zb,
            threshold=design.threshold,
            alpha=design.alpha,
            trim=design.trim,
            z_eq=design.eq_bound(k),
        )
        done = got != UNDECIDED
        codes[open_rows[done]] = got[done]
        used[open_rows[done]] = n
        open_rows = open_rows[~done]
    return codes, used


# --- one metric's analysis, minimum detectable effect, batch sizing ------------------------

POWER_Z = 0.8416212335729143  # z_{0.80}: "detectable" means detected with 80% probability


def orient(code: int, better: str) -> Verdict:
    """Turn a decision code on log(candidate/base) into a verdict for a metric's direction."""
    if code == EQUIVALENT:
        return Verdict.UNCHANGED
    if code == UNDECIDED:
        return Verdict.INCONCLUSIVE
    increase_is_good = better == "higher"
    improved = (code == INCREASE) == increase_is_good
    return Verdict.FASTER if improved else Verdict.SLOWER


@dataclass(frozen=True)
class MetricComparison:
    """A/B analysis of one metric at one look; ratios are candidate/base.

    ``ratio``/``ci_low``/``ci_high``: trimmed geometric-mean ratio with the repeated (sequential)
    confidence interval that the verdict uses. ``gm_*``: plain geometric-mean ratio with the
    fixed-sample t-interval at 1-alpha; ``hl_*``: Hodges-Lehmann ratio with its Wilcoxon interval.
    ``p_value`` is the nominal two-sided p of the trimmed t-test; a verdict needs it below
    ``nominal_level``. ``wilcoxon_p`` is the two-sided signed-rank p (twice the smaller one-sided
    p of ``signed_rank_p``); a verdict needs the one-sided p in its direction <= alpha. ``mde``
    is the change (fraction) detectable with 80% probability at this noise and pair count.
    ``eq_ci_low``/``eq_ci_high``: the equivalence interval (``z_eq``) that ``unchanged`` needs
    within the threshold.
    """

    n: int
    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    nominal_level: float
    gm_ratio: float
    gm_ci_low: float
    gm_ci_high: float
    hl_ratio: float
    hl_ci_low: float
    hl_ci_high: float
    wilcoxon_p: float
    log_sd: float
    mde: float
    verdict: Verdict
    eq_ci_low: float = math.nan
    eq_ci_high: float = math.nan


def compare_metric(
    base: Sequence[float],
    candidate: Sequence[float],
    *,
    z_bound: float,
    alpha: float,
    threshold: float,
    better: str = "lower",
    trim: float = DEFAULT_TRIM,
    z_eq: float | None = None,
) -> MetricComparison:
    """Analyse paired samples of one metric with the boundaries of the current look (``z_eq``:
    the equivalence boundary, default ``z_bound``)."""
    x = log_ratios(base, candidate)
    n = int(x.size)
    nan = math.nan
    # A ratio needs positive values: pairs with a zero are dropped, and when most pairs have one
    # (sys_time in clock ticks, a count that is often 0) the survivors are a biased selection.
    if n < _min_pairs(trim) or 2 * n < len(base):
        return MetricComparison(
            n,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            nan,
            Verdict.INCONCLUSIVE,
        )
    m_arr, se_arr, _ = trimmed_mean_se(x, trim)
    df = interval_df(n, trim)
    mean, se = float(m_arr), float(se_arr)
    tb = t_bound(z_bound, df)
    p_value = float(2 * t_sf(abs(mean) / se, df)) if se > 0 else (1.0 if mean == 0 else 0.0)
    code = int(decide(x, z_bound=z_bound, threshold=threshold, alpha=alpha, trim=trim, z_eq=z_eq))
    te = tb if z_eq is None else t_bound(z_eq, df)
    gm, gse, gdf = trimmed_mean_se(x, 0.0)
    gq = float(t_isf(alpha / 2, gdf)) * float(gse)
    hl, hl_lo, hl_hi = hodges_lehmann(x, alpha)
    p_up, p_down = signed_rank_p(x)
    delta = math.log1p(threshold)
    mde_log = max(tb * se, delta) + POWER_Z * se if math.isfinite(tb) else math.inf
    return MetricComparison(
        n=n,
        ratio=math.exp(mean),
        ci_low=math.exp(mean - tb * se),
        ci_high=math.exp(mean + tb * se),
        p_value=p_value,
        nominal_level=float(2 * norm_sf(z_bound)),
        gm_ratio=math.exp(float(gm)),
        gm_ci_low=math.exp(float(gm) - gq),
        gm_ci_high=math.exp(float(gm) + gq),
        hl_ratio=math.exp(hl),
        hl_ci_low=math.exp(hl_lo),
        hl_ci_high=math.exp(hl_hi),
        wilcoxon_p=min(1.0, 2 * min(float(p_up), float(p_down))),
        log_sd=robust_sd(x),
        mde=math.expm1(mde_log),
        verdict=orient(code, better),
        eq_ci_low=math.exp(mean - te * se),
        eq_ci_high=math.exp(mean + te * se),
    )


def robust_sd(x: Sequence[float] | np.ndarray) -> float:
    """Standard deviation per pair implied by the 20%-trimmed mean's SE (i.e. SE * sqrt(n))."""
    arr = np.asarray(x, dtype=float)
    if arr.size < _min_pairs(DEFAULT_TRIM):
        return math.nan
    _, se, _ = trimmed_mean_se(arr, DEFAULT_TRIM)
    return float(se) * math.sqrt(arr.size)


def planned_mde(noise_sd: float, pairs: int, *, threshold: float, z_bound: float) -> float:
    """Smallest change (fraction) detected with 80% probability after ``pairs`` pairs.

    ``noise_sd`` is the per-pair spread of log-ratios (``robust_sd`` of an A/A run) and
    ``z_bound`` the boundary of the final look. A verdict needs the estimate beyond the
    threshold and the interval clear of 1, whichever is further.
    """
    se = noise_sd / math.sqrt(max(pairs, 1))
    return math.expm1(max(z_bound * se, math.log1p(threshold)) + POWER_Z * se)


POWER_EQ_Z = 1.2815515655446004  # z_{0.90}: both one-sided tests pass with 80% probability


def pairs_to_decide(a: MetricComparison, threshold: float) -> tuple[str, int] | None:
    """Pairs an undecided comparison would need, at its measured noise, for a verdict with 80%
    probability: ``("unchanged", n)`` when the estimate lies within the threshold (planned as if
    nothing changed), else ``("changed", n)`` for a verdict on a change of the estimate's size.

    The spread is the one measured (``log_sd``) and the boundary the one of the current look
    (the interval's half-width over its SE), so this is the planner's arithmetic, not a promise:
    later looks' boundaries differ a little. None when it cannot tell (too few pairs, no spread,
    no finite interval).
    """
    values = (a.ratio, a.ci_low, a.ci_high, a.log_sd)
    if a.n < _min_pairs(DEFAULT_TRIM) or not all(math.isfinite(v) and v > 0 for v in values):
        return None
    se = a.log_sd / math.sqrt(a.n)
    mean, delta = math.log(a.ratio), math.log1p(threshold)
    if abs(mean) < delta:
        lo, hi = (
            (a.eq_ci_low, a.eq_ci_high) if math.isfinite(a.eq_ci_low) else (a.ci_low, a.ci_high)
        )
        z = (math.log(hi) - math.log(lo)) / 2 / se
        need = ((z + POWER_EQ_Z) * a.log_sd / delta) ** 2
        return "unchanged", math.ceil(need)
    z = (math.log(a.ci_high) - math.log(a.ci_low)) / 2 / se
    gap = abs(mean) - delta
    need = max(((z + POWER_Z) * a.log_sd / abs(mean)) ** 2, (POWER_Z * a.log_sd / gap) ** 2)
    return "changed", math.ceil(need)


def first_batch(noise_sd: float | None, *, min_pairs: int, max_pairs: int, threshold: float) -> int:
    """Pairs to run before the first look, sized from calibrated noise.

    Large enough that a clear change (10%, or 5x the threshold if larger) would be decided at the
    first look with 80% probability against a typical early boundary (z = 3); never below
    ``min_pairs`` or above a quarter of the budget. Without calibration: ``min_pairs``.
    """
    if noise_sd is None or not math.isfinite(noise_sd) or noise_sd <= 0:
        return max(min_pairs, 1)
    clear = math.log1p(max(0.10, 5 * threshold))
    n = math.ceil(((3.0 + POWER_Z) * noise_sd / clear) ** 2)
    return int(min(max(n, min_pairs), max(min_pairs, max_pairs // 4)))


# --- which metric decides: CPU time for CPU-bound workloads, checked by wall time -----------
#
# docs/statistics.md, section 3d. CPU time (user+sys of the process tree) is the computing without
# the waiting; on a shared machine most of wall time's noise is waiting for a CPU, so for a workload
# that computes all the time CPU time is the lower-noise measure of the same change. Wall time
# stays the check: a verdict on CPU time stands only when wall time's interval does not contradict
# it.

CPU_BOUND_SHARE = 0.90  # cpu/wall a CPU-bound run reaches when the machine leaves it a CPU
CPU_PARALLEL_SHARE = 1.10  # median cpu/wall above this: several CPUs at once (parallel)


def cpu_share(cpu: Sequence[float] | np.ndarray, wall: Sequence[float] | np.ndarray) -> float:
    """The largest cpu/wall over one side's runs (NaN without data).

    A run of a single-threaded program cannot spend a larger share of its wall time on a CPU
    than the program computes: time it sleeps or waits for I/O is wall time in every run. A
    CPU-bound program reaches ~1 in any run the machine leaves it a CPU, however loaded the
    machine is during the others, so the best run, not the typical one, tells them apart.
    """
    c = np.asarray(cpu, dtype=float)
    w = np.asarray(wall, dtype=float)
    keep = np.isfinite(c) & np.isfinite(w) & (w > 0) & (c >= 0)
    if not keep.any():
        return math.nan
    return float(np.max(c[keep] / w[keep]))


def cpu_median_share(
    cpu: Sequence[float] | np.ndarray, wall: Sequence[float] | np.ndarray
) -> float:
    """Median cpu/wall over one side's runs (NaN without data)."""
    c = np.asarray(cpu, dtype=float)
    w = np.asarray(wall, dtype=float)
    keep = np.isfinite(c) & np.isfinite(w) & (w > 0) & (c >= 0)
    return float(np.median(c[keep] / w[keep])) if keep.any() else math.nan


def is_cpu_bound(shares: Sequence[float], medians: Sequence[float]) -> bool:
    """The rule for deciding on CPU time: every side's ``cpu_share`` >= CPU_BOUND_SHARE and its
    median cpu/wall <= CPU_PARALLEL_SHARE (a parallel program's wall time can fall while its CPU
    time rises, so CPU time is not its measure)."""
    return (
        bool(shares)
        and all(math.isfinite(s) and s >= CPU_BOUND_SHARE for s in shares)
        and all(math.isfinite(m) and m <= CPU_PARALLEL_SHARE for m in medians)
    )


def interval(
    x: np.ndarray, *, z_bound: float, trim: float = DEFAULT_TRIM
) -> tuple[np.ndarray, np.ndarray]:
    """The repeated confidence interval (lo, hi) of the trimmed mean of ``x`` at one look."""
    x = np.asarray(x, dtype=float)
    mean, se, _ = trimmed_mean_se(x, trim)
    half = t_bound(z_bound, interval_df(x.shape[-1], trim)) * se
    return mean - half, mean + half


def decide_checked(
    x_cpu: np.ndarray,
    x_wall: np.ndarray,
    *,
    z_bound: float,
    threshold: float,
    alpha: float,
    trim: float = DEFAULT_TRIM,
    z_eq: float | None = None,
) -> np.ndarray:
    """``decide`` on CPU-time log-ratios, each verdict kept only where wall time agrees.

    Wall time's interval at the same look must overlap CPU time's: when the two intervals are
    disjoint the change (or the machine) moved the waiting, CPU time does not tell the whole
    story, and the look stays UNDECIDED. The check only removes verdicts, so the error rates of
    ``decide`` on CPU time bound those of this rule.
    """
    x_cpu = np.asarray(x_cpu, dtype=float)
    x_wall = np.asarray(x_wall, dtype=float)
    code = decide(x_cpu, z_bound=z_bound, threshold=threshold, alpha=alpha, trim=trim, z_eq=z_eq)
    c_lo, c_hi = interval(x_cpu, z_bound=z_bound, trim=trim)
    w_lo, w_hi = interval(x_wall, z_bound=z_bound, trim=trim)
    agree = (w_hi >= c_lo) & (w_lo <= c_hi)
    return np.asarray(np.where(agree, code, UNDECIDED), dtype=int)
