"""Diff two profiles of the same kind: where did the time (or memory) go between two refs. Pure.

Shares alone mislead: when a hot function gets faster, every other function's *share* rises while
its time stays put. So each row also carries the absolute amount per run, the self share times
that side's CPU or wall time (CPU profiles, see ``amount_per_run``) or the bytes alive at the peak
(memory), and rows are ranked by the change in that amount. Functions present on one side only
are ``new`` or ``vanished``.

One run per side is at the mercy of a noisy neighbour (on a shared 2-core machine an unchanged
function's time moved by 40-100% between two single runs), so ``perfop profile diff`` profiles
each side several times, interleaved, and ``diff_runs`` compares per-function medians across
those runs; each row keeps the per-run amounts so the spread is visible.

Noise is judged on the runs themselves: the i-th base and i-th candidate run ran next to each
other, so each pair carries the same neighbour. A neighbour scales amounts (it doubles a run, it
does not add 0.1 s), so the pairs are compared as log-ratios (a run where a function got no
sample counts as half its smallest amount seen); a 95% t-interval of their mean that covers zero
makes the row ``within noise`` (neither an increase nor a decrease) — unless every pair moved the
same way by at least 2x, which one stretched run cannot fake. ``ratio_low``/``ratio_high`` are
that interval as a candidate/base ratio. The header's totals come from the same runs: the
paired ratio of the process tree's CPU time (wall time where it is unknown), with its interval,
beside the wall medians.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from perfop.profiling.model import HotSpot, Kind, ProfilePart


@dataclass(frozen=True)
class DiffRow:
    id: str
    function: str
    file: str
    status: str  # "increase", "decrease", "new", "vanished", "within noise"
    base_self_pct: float
    candidate_self_pct: float
    base_value: float  # seconds per run (cpu) or bytes (memory); median across runs
    candidate_value: float
    base_runs: tuple[float, ...] = ()  # the amount in each run, in run order
    candidate_runs: tuple[float, ...] = ()
    ratio_low: float | None = None  # 95% interval of candidate/base over the paired runs
    ratio_high: float | None = None  # (None with a single run per side)

    @property
    def within_noise(self) -> bool:
        return self.status == NOISE

    @property
    def delta_share_points(self) -> float:
        return self.candidate_self_pct - self.base_self_pct

    @property
    def delta_value(self) -> float:
        return self.candidate_value - self.base_value

    @property
    def relative_change(self) -> float | None:
        """candidate/base - 1, None when the base is zero."""
        return self.candidate_value / self.base_value - 1.0 if self.base_value else None


NOISE = "within noise"
LEVEL = 0.95


@dataclass(frozen=True)
class TotalChange:
    """Candidate/base ratio of a total (``cpu_time`` or ``wall_time``) over the paired runs:
    geometric mean and its interval (None with fewer than two pairs)."""

    metric: str
    base: float  # medians
    candidate: float
    ratio: float
    low: float | None
    high: float | None

    @property
    def within_noise(self) -> bool:
        return self.low is not None and self.high is not None and self.low <= 1.0 <= self.high


def _t(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.5 + LEVEL / 2, df))


def paired_interval(
    base: Sequence[float], candidate: Sequence[float]
) -> tuple[float, float | None, float | None]:
    """Mean of the paired differences candidate - base and its t-interval (None, None for fewer
    than two pairs)."""
    diffs = [c - b for b, c in zip(base, candidate, strict=False)]
    if not diffs:
        return 0.0, None, None
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return mean, None, None
    half = _t(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
    return mean, mean - half, mean + half


CLEAR_FACTOR = 2.0  # a change every pair shows by at least this factor is never noise


def _log_pairs(base: Sequence[float], candidate: Sequence[float]) -> list[tuple[float, float]]:
    seen = [v for v in (*base, *candidate) if v > 0]
    if not seen:
        return []
    floor = min(seen) / 2
    return [
        (math.log(max(b, floor)), math.log(max(c, floor)))
        for b, c in zip(base, candidate, strict=False)
    ]


def _ratio_interval(
    base: Sequence[float], candidate: Sequence[float]
) -> tuple[float | None, float | None]:
    pairs = _log_pairs(base, candidate)
    _, low, high = paired_interval([b for b, _ in pairs], [c for _, c in pairs])
    if low is None or high is None:
        return None, None
    return math.exp(low), math.exp(high)


def _every_pair_clear(base: Sequence[float], candidate: Sequence[float]) -> bool:
    """Every pair moved the same way by at least ``CLEAR_FACTOR`` (two pairs at least): one
    run stretched by a neighbour widens the t-interval, but cannot fake this."""
    pairs = list(zip(base, candidate, strict=False))
    down = all(c * CLEAR_FACTOR <= b and b > 0 for b, c in pairs)
    up = all(c >= b * CLEAR_FACTOR and c > 0 for b, c in pairs)
    return len(pairs) >= 2 and (down or up)


def total_change(base: Sequence[ProfilePart], candidate: Sequence[ProfilePart]) -> TotalChange:
    """The paired change of the runs' CPU time (every run has it) or else wall time."""
    use_cpu = all(p.cpu_time for p in (*base, *candidate))
    metric = "cpu_time" if use_cpu else "wall_time"

    def values(parts: Sequence[ProfilePart]) -> list[float]:
        return [float((p.cpu_time if use_cpu else p.wall_time) or 0.0) for p in parts]

    b, c = values(base), values(candidate)
    logs_ok = all(v > 0 for v in (*b, *c))
    if not logs_ok:
        ratio = _median(c) / _median(b) if _median(b) else 1.0
        return TotalChange(metric, _median(b), _median(c), ratio, None, None)
    mean, low, high = paired_interval([math.log(v) for v in b], [math.log(v) for v in c])
    return TotalChange(
        metric,
        _median(b),
        _median(c),
        math.exp(mean),
        None if low is None else math.exp(low),
        None if high is None else math.exp(high),
    )


@dataclass(frozen=True)
class ProfileDiff:
    kind: Kind
    unit: str
    base_label: str
    candidate_label: str
    base_wall: float
    candidate_wall: float
    rows: tuple[DiffRow, ...]  # changes (largest first), then rows within noise
    repeat: int = 1  # profiled runs per side
    total: TotalChange | None = None  # the paired change of the runs' totals

    def row(self, function: str) -> DiffRow | None:
        return next((r for r in self.rows if r.function == function), None)

    @property
    def decreases(self) -> tuple[DiffRow, ...]:
        """Rows that got cheaper beyond the noise, biggest saving first."""
        return tuple(
            sorted(
                (r for r in self.rows if r.delta_value < 0 and not r.within_noise),
                key=lambda r: r.delta_value,
            )
        )

    @property
    def increases(self) -> tuple[DiffRow, ...]:
        """Rows that got dearer beyond the noise, biggest cost first."""
        return tuple(
            sorted(
                (r for r in self.rows if r.delta_value > 0 and not r.within_noise),
                key=lambda r: -r.delta_value,
            )
        )


def amount_per_run(spot: HotSpot, part: ProfilePart) -> float:
    """Seconds per run for CPU, bytes for memory.

    py-spy leaves idle threads out of its samples, so its self share is a share of CPU time: it is
    multiplied by the process tree's CPU time, which a busy neighbour barely moves, while the wall
    time it stretches (by 2x on a loaded 2-core machine). pyinstrument samples wall-clock time
    (sleeps included), so its share is multiplied by the wall time, as is any part whose CPU time
    is unknown (profiles stored before perfop recorded it).
    """
    if part.kind == "cpu":
        if part.backend == "py-spy" and part.cpu_time is not None:
            return spot.self_pct / 100.0 * part.cpu_time
        return spot.self_pct / 100.0 * part.wall_time
    return spot.self_value


def diff_parts(
    base: ProfilePart, candidate: ProfilePart, *, base_label: str, candidate_label: str
) -> ProfileDiff:
    """Rank every function of either side by the change in its amount per run."""
    return diff_runs([base], [candidate], base_label=base_label, candidate_label=candidate_label)


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else 0.0


def _amounts(
    hid: str, spots: Sequence[dict[str, HotSpot]], parts: Sequence[ProfilePart]
) -> tuple[float, ...]:
    return tuple(
        amount_per_run(run[hid], part) if hid in run else 0.0
        for run, part in zip(spots, parts, strict=True)
    )


def diff_runs(
    base: Sequence[ProfilePart],
    candidate: Sequence[ProfilePart],
    *,
    base_label: str,
    candidate_label: str,
) -> ProfileDiff:
    """Diff two sides profiled one or more times each: every function's amount per run is the
    median across that side's runs (0 in a run where it did not show up), and rows are ranked by
    the change in those medians."""
    if not base or not candidate:
        raise ValueError("diff_runs needs at least one profiled run per side")
    kinds = {p.kind for p in (*base, *candidate)}
    if len(kinds) != 1:
        raise ValueError(f"cannot diff profiles of different kinds: {', '.join(sorted(kinds))}")
    b = [{h.id: h for h in part.hotspots} for part in base]
    c = [{h.id: h for h in part.hotspots} for part in candidate]
    rows = []
    for hid in dict.fromkeys([k for run in (*b, *c) for k in run]):
        spot = next(run[hid] for run in (*b, *c) if hid in run)
        b_runs = _amounts(hid, b, base)
        c_runs = _amounts(hid, c, candidate)
        bv, cv = _median(b_runs), _median(c_runs)
        if not any(b_runs) and not any(c_runs):
            continue  # only ever a caller: nothing of its own to compare
        in_base, in_cand = any(hid in r for r in b), any(hid in r for r in c)
        low, high = _ratio_interval(b_runs, c_runs)
        noisy = low is not None and high is not None and low <= 1.0 <= high
        if noisy and not _every_pair_clear(b_runs, c_runs):
            status = NOISE
        elif not in_base:
            status = "new"
        elif not in_cand:
            status = "vanished"
        else:
            status = "decrease" if cv < bv else "increase"
        rows.append(
            DiffRow(
                id=hid,
                function=spot.function,
                file=spot.file,
                status=status,
                base_self_pct=_median([r[hid].self_pct if hid in r else 0.0 for r in b]),
                candidate_self_pct=_median([r[hid].self_pct if hid in r else 0.0 for r in c]),
                base_value=bv,
                candidate_value=cv,
                base_runs=b_runs,
                candidate_runs=c_runs,
                ratio_low=low,
                ratio_high=high,
            )
        )
    rows.sort(key=lambda r: (r.within_noise, -abs(r.delta_value), r.file, r.function))
    return ProfileDiff(
        kind=base[0].kind,
        unit=base[0].unit,
        base_label=base_label,
        candidate_label=candidate_label,
        base_wall=_median([p.wall_time for p in base]),
        candidate_wall=_median([p.wall_time for p in candidate]),
        rows=tuple(rows),
        repeat=max(len(base), len(candidate)),
        total=total_change(base, candidate),
    )


def diff_to_dict(diff: ProfileDiff) -> dict[str, object]:
    """JSON-ready form of a diff (the ``perfop.profile-diff/1`` document's body)."""
    return {
        "kind": diff.kind,
        "unit": diff.unit,
        "repeat": diff.repeat,
        "base": {"label": diff.base_label, "wall_time": diff.base_wall},
        "candidate": {"label": diff.candidate_label, "wall_time": diff.candidate_wall},
        "total": None
        if diff.total is None
        else {
            "metric": diff.total.metric,
            "base": diff.total.base,
            "candidate": diff.total.candidate,
            "ratio": diff.total.ratio,
            "low": diff.total.low,
            "high": diff.total.high,
            "within_noise": diff.total.within_noise,
        },
        "rows": [
            {
                "id": r.id,
                "function": r.function,
                "file": r.file,
                "status": r.status,
                "base_self_pct": r.base_self_pct,
                "candidate_self_pct": r.candidate_self_pct,
                "delta_share_points": r.delta_share_points,
                "base_per_run": r.base_value,
                "candidate_per_run": r.candidate_value,
                "delta_per_run": r.delta_value,
                "base_runs": list(r.base_runs),
                "candidate_runs": list(r.candidate_runs),
                "ratio_low": r.ratio_low,
                "ratio_high": r.ratio_high,
                "within_noise": r.within_noise,
            }
            for r in diff.rows
        ],
    }
