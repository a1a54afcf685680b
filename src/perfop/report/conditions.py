"""Measurement conditions for the report: the machine's contention during each baseline and
validation, and the warnings when absolute numbers were measured under high contention.

Pure: ``ReportData`` in, rows and sentences out; the renderers (markdown, html) lay them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from perfop.measure import contention as cn
from perfop.records.measured import Spread, StoredContention, load_contention
from perfop.report.model import Baseline, ReportData, ValidationResult


@dataclass(frozen=True)
class ConditionRow:
    measurement: str  # "baseline run 3 (parse)", "H1 validation 2 (comparison 7)"
    kind: str  # "absolute" (baseline) | "paired" (comparison)
    level: str
    load: str
    others: str
    pressure: str


def _stat(spread: Spread | None, fmt: str) -> str:
    if spread is None:
        return "-"
    return f"{fmt.format(spread.median)} (max {fmt.format(spread.max)})"


def _row(measurement: str, kind: str, summary: StoredContention | None) -> ConditionRow:
    if summary is None:
        return ConditionRow(measurement, kind, "not recorded", "-", "-", "-")
    load = _stat(summary.load, "{:.1f}")
    if load != "-":
        load += f" on {summary.cpus} CPUs"
    return ConditionRow(
        measurement=measurement,
        kind=kind,
        level=summary.level,
        load=load,
        others=_stat(summary.others_cpu_share, "{:.0%}"),
        pressure=_stat(summary.cpu_pressure, "{:.0%}"),
    )


def _high(summary: StoredContention | None) -> bool:
    return summary is not None and cn.is_high(summary.to_dict())


def validation_contention(v: ValidationResult) -> StoredContention | None:
    """The worst contention over a validation's compared workloads (None if not recorded)."""
    return load_contention(
        cn.merge([w.contention.to_dict() for w in v.workloads if w.contention is not None])
    )


def _validation_name(v: ValidationResult) -> str:
    ids = sorted({w.comparison_id for w in v.workloads if w.comparison_id is not None})
    cmp = f" (comparison {', '.join(map(str, ids))})" if ids else ""
    return f"{v.hypothesis} validation {v.id}{cmp}"


def rows(data: ReportData) -> list[ConditionRow]:
    out = [
        _row(f"baseline run {b.run_id} ({b.workload})", "absolute", b.contention)
        for b in data.baselines
    ]
    out += [_row(_validation_name(v), "paired", validation_contention(v)) for v in data.validations]
    return out


def warnings(data: ReportData) -> list[str]:
    """One sentence per measurement whose absolute numbers high contention distorted."""
    out = []
    for b in data.baselines:
        if _high(b.contention):
            out.append(
                f"Baseline run {b.run_id} ({b.workload}) was measured under high contention "
                f"({_reasons(b.contention)}): its absolute times are inflated and are not the "
                "code's own; measure the baseline again on a quieter machine before relying on it."
            )
    for v in data.validations:
        summary = validation_contention(v)
        if _high(summary):
            slo = " and its SLO checks (absolute values) are not trustworthy" if v.slos else ""
            out.append(
                f"{_validation_name(v)} ran under high contention ({_reasons(summary)}): its "
                f"medians are inflated{slo}; the ratios from interleaved pairs remain valid."
            )
    return out


def _reasons(summary: StoredContention | None) -> str:
    return ", ".join(summary.reasons if summary is not None else ()) or "see the rule"


def baseline_label(b: Baseline) -> str:
    """A label beside a baseline's absolute values ("" when contention was not high)."""
    return "high contention: absolute values inflated" if _high(b.contention) else ""


def validation_line(v: ValidationResult) -> str | None:
    """The machine line beside a validation, as the terminal prints it."""
    summary = validation_contention(v)
    return cn.format_line(summary.to_dict(), paired=True) if summary is not None else None


RULE = cn.RULE
