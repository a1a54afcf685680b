"""The one per-metric comparison result, and its stored form; a stored comparison, loaded.

A ``MetricResult`` is one metric of one workload of an A/B comparison: both sides' medians and the
paired analysis (``stats.MetricComparison``). ``compare`` and ``calibrate`` make it, the store keeps
it as a row of a ``perfop.comparison/N`` document (``metric_row``), and the report reads it back
into the same type (``metric_from_row``), so a field is added here once. ``load_comparison`` reads
a whole stored document (or one embedded in a validation's evidence) once into a
``StoredComparison`` of ``StoredWorkload`` records, which is what the report reads.

Stored form (one metric row of ``perfop.comparison/N``; non-finite numbers are null):
  /1  name, unit, better, base_median, candidate_median, ratio, ci_low, ci_high, p_value,
      nominal_level, verdict, pairs, mde, geometric_mean_ratio, geometric_mean_ci,
      hodges_lehmann_ratio, hodges_lehmann_ci, wilcoxon_p
  /2  adds equivalence_ci (additively: a reader of /1 rows ignores it)
``log_sd`` is never stored: a loaded row has it NaN. A key missing from an older or hand-written
row loads as NaN (a number), "" (unit), "lower" (better) or inconclusive (verdict).

Stored form of the document (``perfop.compare.service.comparison_document``), as far as it is
  loaded: /1  schema, id, base, candidate, seed, threshold, alpha, harness, workloads: name,
      verdict, pairs, behavior, behavior_diff, behavior_note, harness, harness_touched, gate,
      primary_metric, failure, runs, metrics
  /2  adds (additively) the workload's decided_on, decision, cpu_vs_wall, contention and
      budget and stop fields, and the document's contention and elapsed
Older evidence embedded a document with a workload's ``workload`` (for ``name``), ``diff``
(for ``behavior_diff``), ``errors``, ``comparison_id`` and its ``base_values`` /
``candidate_values``; they load too. A workload's nested documents (``decision``,
``cpu_vs_wall``, ``contention``) load into the records of ``perfop.records.measured``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from perfop.model import Verdict
from perfop.records.measured import (
    StoredContention,
    StoredCpuWall,
    StoredDecision,
    load_contention,
    load_cpu_vs_wall,
    load_decision,
    stored_number,
    stored_pair,
)
from perfop.stats import MetricComparison

_UNSET: Any = object()


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
    gm_low, gm_high = stored_pair(row.get("geometric_mean_ci"))
    hl_low, hl_high = stored_pair(row.get("hodges_lehmann_ci"))
    eq_low, eq_high = stored_pair(row.get("equivalence_ci"))
    analysis = MetricComparison(
        n=_count(row.get("pairs")),
        ratio=stored_number(row.get("ratio")),
        ci_low=stored_number(row.get("ci_low")),
        ci_high=stored_number(row.get("ci_high")),
        p_value=stored_number(row.get("p_value")),
        nominal_level=stored_number(row.get("nominal_level")),
        gm_ratio=stored_number(row.get("geometric_mean_ratio")),
        gm_ci_low=gm_low,
        gm_ci_high=gm_high,
        hl_ratio=stored_number(row.get("hodges_lehmann_ratio")),
        hl_ci_low=hl_low,
        hl_ci_high=hl_high,
        wilcoxon_p=stored_number(row.get("wilcoxon_p")),
        log_sd=math.nan,
        mde=stored_number(row.get("mde")),
        verdict=_verdict(row.get("verdict") or Verdict.INCONCLUSIVE),
        eq_ci_low=eq_low,
        eq_ci_high=eq_high,
    )
    return MetricResult(
        name=str(row.get("name")),
        unit=str(row.get("unit") or ""),
        better=str(row.get("better") or "lower"),
        base_median=stored_number(row.get("base_median")),
        candidate_median=stored_number(row.get("candidate_median")),
        analysis=analysis,
    )


@dataclass(frozen=True)
class StoredWorkload:
    """One workload of a stored comparison document, as loaded (defaults for absent keys)."""

    name: str
    comparison_id: int | None
    verdict: str  # "inconclusive" when absent (a side failed)
    pairs: int
    behavior: str  # same | changed | unchecked
    behavior_diff: str | None
    behavior_note: str | None
    harness: str
    harness_touched: bool
    gate: bool
    primary_metric: str | None
    decided_on: str | None  # the metric the verdict was decided on (/2)
    metrics: tuple[MetricResult, ...]
    base_values: tuple[float, ...]  # only in older embedded documents
    candidate_values: tuple[float, ...]
    errors: tuple[str, ...]  # the side's failure first, then any errors listed
    contention: StoredContention | None
    cpu_vs_wall: StoredCpuWall | None
    decision: StoredDecision | None


@dataclass(frozen=True)
class StoredComparison:
    """A ``perfop.comparison/N`` document, as loaded: what the report reads of it."""

    schema: str
    id: int | None
    seed: int | None
    harness: str | None
    workloads: tuple[StoredWorkload, ...]


def _finite_values(values: Any) -> tuple[float, ...]:
    return tuple(v for v in map(_finite_or_none, values or []) if v is not None)


def _finite_or_none(value: Any) -> float | None:
    out = stored_number(value)
    return None if math.isnan(out) else out


def _text(value: Any) -> str | None:
    return str(value) if value else None


def _workload_id(wl: Mapping[str, Any], comparison_id: int | None) -> int | None:
    # A workload row's own comparison_id (older embedded evidence) wins, null included.
    cid = wl.get("comparison_id", _UNSET)
    if cid is _UNSET:
        return comparison_id
    return int(cid) if cid is not None else None


def load_workload(wl: Mapping[str, Any], comparison_id: int | None = None) -> StoredWorkload:
    """One workload row of a stored document (``comparison_id``: the document's id)."""
    errors = tuple(str(e) for e in wl.get("errors") or [])
    if wl.get("failure"):
        errors = (str(wl["failure"]), *errors)
    note = wl.get("behavior_note")
    return StoredWorkload(
        name=str(wl.get("name") or wl.get("workload") or "?"),
        comparison_id=_workload_id(wl, comparison_id),
        verdict=str(wl.get("verdict") or "inconclusive"),
        pairs=int(wl.get("pairs") or 0),
        behavior=str(wl.get("behavior") or "unchecked"),
        behavior_diff=_text(wl.get("behavior_diff") or wl.get("diff")),
        behavior_note=None if note is None else str(note),
        harness=str(wl.get("harness") or "base"),
        harness_touched=bool(wl.get("harness_touched")),
        gate=bool(wl.get("gate", True)),
        primary_metric=_text(wl.get("primary_metric")),
        decided_on=_text(wl.get("decided_on")),
        metrics=tuple(
            metric_from_row(m) for m in wl.get("metrics") or [] if isinstance(m, Mapping)
        ),
        base_values=_finite_values(wl.get("base_values")),
        candidate_values=_finite_values(wl.get("candidate_values")),
        errors=errors,
        contention=load_contention(wl.get("contention")),
        cpu_vs_wall=load_cpu_vs_wall(wl.get("cpu_vs_wall")),
        decision=load_decision(wl.get("decision")),
    )


def load_comparison(doc: Mapping[str, Any], comparison_id: int | None = None) -> StoredComparison:
    """A stored ``perfop.comparison/1`` or ``/2`` document (or one embedded in a validation's
    evidence) as a ``StoredComparison``; ``comparison_id`` is the id it is stored under, which
    its workloads carry unless a workload row names its own."""
    seed = doc.get("seed")
    harness = doc.get("harness")
    return StoredComparison(
        schema=str(doc.get("schema") or ""),
        id=comparison_id,
        seed=seed if isinstance(seed, int) else None,
        harness=None if harness is None else str(harness),
        workloads=tuple(
            load_workload(wl, comparison_id)
            for wl in doc.get("workloads") or []
            if isinstance(wl, Mapping)
        ),
    )
