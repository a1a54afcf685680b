"""The one per-metric comparison result, and its stored form.

A ``MetricResult`` is one metric of one workload of an A/B comparison: both sides' medians and the
paired analysis (``stats.MetricComparison``). ``compare`` and ``calibrate`` make it, the store keeps
it as a row of a ``perfop.comparison/N`` document (``metric_row``), and the report reads it back
into the same type (``metric_from_row``), so a field is added here once.

Stored form (one metric row of ``perfop.comparison/N``; non-finite numbers are null):
  /1  name, unit, better, base_median, candidate_median, ratio, ci_low, ci_high, p_value,
      nominal_level, verdict, pairs, mde, geometric_mean_ratio, geometric_mean_ci,
      hodges_lehmann_ratio, hodges_lehmann_ci, wilcoxon_p
  /2  adds equivalence_ci (additively: a reader of /1 rows ignores it)
``log_sd`` is never stored: a loaded row has it NaN. A key missing from an older or hand-written
row loads as NaN (a number), "" (unit), "lower" (better) or inconclusive (verdict).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfop.model import Verdict
from perfop.stats import MetricComparison


@dataclass(frozen=True)
class MetricResult:
    """One metric of one workload: medians of both sides and the paired analysis."""

    name: str
    unit: str
    better: str
    base_median: float
    candidate_median: float
    analysis: MetricComparison

    @property
    def verdict(self) -> Verdict:
        return self.analysis.verdict

    # The analysis' headline numbers as a reader shows them: None where not finite.
    @property
    def ratio(self) -> float | None:
        return finite(self.analysis.ratio)

    @property
    def ci_low(self) -> float | None:
        return finite(self.analysis.ci_low)

    @property
    def ci_high(self) -> float | None:
        return finite(self.analysis.ci_high)

    @property
    def p_value(self) -> float | None:
        return finite(self.analysis.p_value)

    @property
    def mde(self) -> float | None:
        return finite(self.analysis.mde)


def finite(value: float) -> float | None:
    """``value`` as a float, or None when it is NaN or infinite (JSON has no such numbers)."""
    return float(value) if math.isfinite(value) else None


def metric_row(m: MetricResult) -> dict[str, Any]:
    """The stored (and ``--format json``) row of one metric, ``perfop.comparison/2``."""
    a = m.analysis
    return {
        "name": m.name,
        "unit": m.unit,
        "better": m.better,
        "base_median": finite(m.base_median),
        "candidate_median": finite(m.candidate_median),
        "ratio": finite(a.ratio),
        "ci_low": finite(a.ci_low),
        "ci_high": finite(a.ci_high),
        "equivalence_ci": [finite(a.eq_ci_low), finite(a.eq_ci_high)],
        "p_value": finite(a.p_value),
        "nominal_level": finite(a.nominal_level),
        "verdict": a.verdict.value,
        "pairs": a.n,
        "mde": finite(a.mde),
        "geometric_mean_ratio": finite(a.gm_ratio),
        "geometric_mean_ci": [finite(a.gm_ci_low), finite(a.gm_ci_high)],
        "hodges_lehmann_ratio": finite(a.hl_ratio),
        "hodges_lehmann_ci": [finite(a.hl_ci_low), finite(a.hl_ci_high)],
        "wilcoxon_p": finite(a.wilcoxon_p),
    }


def _number(value: Any) -> float:
    """A stored number: null, a missing key or anything not a finite number is NaN."""
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _pair(value: Any) -> tuple[float, float]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return _number(value[0]), _number(value[1])
    return math.nan, math.nan


def _verdict(value: Any) -> Verdict:
    try:
        return Verdict(str(value))
    except ValueError:
        return Verdict.INCONCLUSIVE


def _count(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def metric_from_row(row: Mapping[str, Any]) -> MetricResult:
    """A stored metric row (``perfop.comparison/1`` or ``/2``) as the ``MetricResult`` it was."""
    gm_low, gm_high = _pair(row.get("geometric_mean_ci"))
    hl_low, hl_high = _pair(row.get("hodges_lehmann_ci"))
    eq_low, eq_high = _pair(row.get("equivalence_ci"))
    analysis = MetricComparison(
        n=_count(row.get("pairs")),
        ratio=_number(row.get("ratio")),
        ci_low=_number(row.get("ci_low")),
        ci_high=_number(row.get("ci_high")),
        p_value=_number(row.get("p_value")),
        nominal_level=_number(row.get("nominal_level")),
        gm_ratio=_number(row.get("geometric_mean_ratio")),
        gm_ci_low=gm_low,
        gm_ci_high=gm_high,
        hl_ratio=_number(row.get("hodges_lehmann_ratio")),
        hl_ci_low=hl_low,
        hl_ci_high=hl_high,
        wilcoxon_p=_number(row.get("wilcoxon_p")),
        log_sd=math.nan,
        mde=_number(row.get("mde")),
        verdict=_verdict(row.get("verdict") or Verdict.INCONCLUSIVE),
        eq_ci_low=eq_low,
        eq_ci_high=eq_high,
    )
    return MetricResult(
        name=str(row.get("name")),
        unit=str(row.get("unit") or ""),
        better=str(row.get("better") or "lower"),
        base_median=_number(row.get("base_median")),
        candidate_median=_number(row.get("candidate_median")),
        analysis=analysis,
    )
