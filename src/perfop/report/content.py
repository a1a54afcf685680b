"""What a report says, derived from ``ReportData`` by pure functions every renderer shares.

The outcome sentences, residual risks, rollback commands, follow-ups, reproduce commands and the
CHANGELOG snippet are decided here once, so Markdown, HTML and JSON never disagree. Nothing here
escapes: renderers escape for their own format.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfop.render import format_value
from perfop.report.model import (
    HypothesisInfo,
    ReportData,
    SLOStatus,
    ValidationResult,
    WorkloadResult,
)

MAX_PAIRED_PLOTS = 6  # per-workload sample plots; the tables carry every number regardless
MAX_FOREST_ROWS = 40


def fmt(value: float | None, unit: str) -> str:
    return format_value(value, unit)


def fmt_ratio(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.3f}"


def fmt_ci(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "-"
    return f"{low:.3f}-{high:.3f}"


def fmt_p(p: float | None) -> str:
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _time_scale(value: float) -> tuple[float, str]:
    magnitude = abs(value)
    return next(
        ((s, u) for s, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if magnitude >= s),
        (1e-9, "ns"),
    )


def fmt_pair(a: float, b: float, unit: str) -> str:
    """``120 -> 65 ms`` when both share a scale, else ``1.28 s -> 74.8 ms``."""
    if unit != "s":
        return f"{fmt(a, unit)} -> {fmt(b, unit)}"
    (sa, ua), (sb, ub) = _time_scale(a), _time_scale(b)
    if ua == ub:
        return f"{a / sa:.3g} -> {b / sb:.3g} {ua}"
    return f"{a / sa:.3g} {ua} -> {b / sb:.3g} {ub}"


def change_phrase(ratio: float | None, unit: str, better: str) -> str:
    """``1.84x faster`` / ``1.05x slower`` / ``1.30x higher``; ratios are candidate/base."""
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return "no estimate"
    timed = unit == "s" and better == "lower"
    if ratio < 1:
        return f"{1 / ratio:.2f}x {'faster' if timed else 'lower'}"
    if ratio > 1:
        return f"{ratio:.2f}x {'slower' if timed else 'higher'}"
    return "no change"


def p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    from perfop.stats import summarize

    return summarize(values).p95


def slo_phrase(slos: Sequence[SLOStatus], workload: str) -> str:
    mine = [s for s in slos if s.workload == workload]
    if not mine:
        return ""
    if any(s.passed is False for s in mine):
        return "SLO breached"
    if all(s.passed for s in mine):
        return "SLO met"
    return "SLO not checked"


def workload_sentence(wl: WorkloadResult, slos: Sequence[SLOStatus]) -> str:
    """``parse: 1.84x faster, p95 120 -> 65 ms, SLO met``."""
    pm = wl.primary
    parts = [f"{wl.workload}: "]
    if wl.errors and pm is None:
        parts.append("failed, no verdict")
    elif pm is None:
        parts.append("no result")
    elif wl.verdict == "inconclusive":
        parts.append(
            f"inconclusive after {wl.pairs} pairs (ratio {fmt_ratio(pm.ratio)}, "
            f"CI {fmt_ci(pm.ci_low, pm.ci_high)})"
        )
    elif wl.verdict == "unchanged":
        parts.append(f"unchanged within the threshold (ratio {fmt_ratio(pm.ratio)})")
    else:
        parts.append(change_phrase(pm.ratio, pm.unit, pm.better))
    extra = []
    b95, c95 = p95(wl.base_values), p95(wl.candidate_values)
    if b95 is not None and c95 is not None and wl.primary_metric == "wall_time":
        extra.append(f"p95 {fmt_pair(b95, c95, wl.unit)}")
    if wl.behavior == "changed":
        extra.append("behaviour CHANGED")
    slo = slo_phrase(slos, wl.workload)
    if slo:
        extra.append(slo)
    return "".join(parts) + ("" if not extra else ", " + ", ".join(extra))


def latest_validation(data: ReportData, label: str) -> ValidationResult | None:
    vals = data.validations_of(label)
    return vals[-1] if vals else None


@dataclass(frozen=True)
class Outcome:
    """One line of the summary: a hypothesis and what its latest validation showed."""

    label: str
    status: str
    statement: str
    sentence: str


def outcomes(data: ReportData) -> list[Outcome]:
    """One sentence per validated (or closed) hypothesis, confirmed first, honest about the rest."""
    order = {"confirmed": 0, "refuted": 1, "inconclusive": 2, "rejected": 3, "reverted": 4}
    out = []
    for h in data.hypotheses:
        v = latest_validation(data, h.label)
        if v is None and h.status not in order:
            continue
        if v is not None and v.workloads:
            text = "; ".join(workload_sentence(w, v.slos) for w in v.workloads)
        elif v is not None:
            text = "; ".join(v.reasons) or "validated without comparison data"
        else:
            text = f"marked {h.status} without a validation"
        if h.status == "refuted":
            text += f" (predicted {fmt_ratio(h.expected_ratio)}x on {h.metric})"
        if v is not None and v.tests is not None and v.tests.passed is not None:
            text += ", tests passed" if v.tests.passed else ", tests FAILED"
        out.append(Outcome(h.label, h.status, h.statement, text))
    out.sort(key=lambda o: (order.get(o.status, 9), o.label))
    return out


def objective(data: ReportData) -> str:
    goals = [g.text for g in data.engagement.goals]
    return "; ".join(goals) if goals else data.engagement.title


def residual_risks(data: ReportData) -> list[str]:
    risks = [d.what for d in data.decisions if d.kind == "risk"]
    for v in data.validations:
        for w in v.workloads:
            if w.behavior == "changed":
                risks.append(f"{v.hypothesis}: {w.workload} output changed at the candidate")
            if w.harness_touched:
                risks.append(
                    f"{v.hypothesis}: the candidate changes {w.workload}'s benchmark files "
                    f"(measured with the {w.harness} harness)"
                )
            if w.errors:
                risks.append(f"{v.hypothesis}: {w.workload} failed during the comparison")
        for s in v.slos:
            if s.passed is False:
                risks.append(f"{v.hypothesis}: SLO breached: {s.reason}")
        if v.tests is not None and v.tests.passed is False:
            risks.append(f"{v.hypothesis}: tests failed at the candidate")
    for h in data.hypotheses:
        if h.status == "confirmed" and h.risk != "low":
            risks.append(f"{h.label} is {h.risk} risk; keep the rollback below at hand")
    if data.open_questions:
        risks.append(f"{len(data.open_questions)} open question(s) remain (see below)")
    return list(dict.fromkeys(risks))


def revert_command(h: HypothesisInfo) -> str | None:
    """The exact ``git revert`` of the candidate commits, newest first."""
    if not h.commits:
        return None
    return "git revert --no-edit " + " ".join(c.sha for c in h.commits)


def reproduce_commands(data: ReportData) -> list[str]:
    """One command per validation (its refs pinned by sha), or a baseline run without any."""
    cmds = []
    seen = set()
    for v in data.validations:
        wls = " ".join(f"-w {w.workload}" for w in v.workloads)
        cmd = f"perfop compare {v.base_sha[:12]} {v.candidate_sha[:12]} {wls}".strip()
        if v.seed is not None:
            cmd += f"  # seed {v.seed}"
        if cmd not in seen:
            seen.add(cmd)
            cmds.append(cmd)
    if not cmds:
        cmds.append("perfop run " + " ".join(w.name for w in data.workloads))
    return cmds[-3:]


def follow_ups(data: ReportData) -> list[str]:
    items = [d.what for d in data.decisions if d.kind == "follow-up"]
    for h in data.hypotheses:
        if h.status == "inconclusive":
            items.append(
                f"{h.label} is inconclusive: re-validate with a larger budget "
                "(max_runs / max_time) or CPU affinity, or drop it"
            )
        elif h.status == "refuted":
            items.append(f"{h.label} was refuted: revert the candidate or revise the hypothesis")
        elif h.status in ("proposed", "designed", "approved"):
            items.append(f"{h.label} ({h.status}) is not implemented yet")
        elif h.status == "implemented":
            items.append(f"{h.label} is implemented but not validated: perfop validate {h.label}")
    if data.hypotheses and not data.acceptances:
        items.append("stakeholder sign-off of the trade-offs: perfop accept --by NAME")
    return list(dict.fromkeys(items))


def changelog_snippet(data: ReportData) -> str:
    """A Keep a Changelog entry for the confirmed hypotheses, ready to paste."""
    lines = ["### Changed"]
    for h in data.hypotheses:
        if h.status != "confirmed":
            continue
        v = latest_validation(data, h.label)
        detail = ""
        if v is not None and v.workloads:
            detail = " (" + "; ".join(workload_sentence(w, v.slos) for w in v.workloads) + ")"
        sha = f", {h.candidate_sha[:12]}" if h.candidate_sha else ""
        lines.append(f"- Performance: {h.statement}{detail} [{h.label}{sha}]")
    if len(lines) == 1:
        lines.append("- No performance change confirmed by this engagement.")
    return "\n".join(lines)


def safeguards(data: ReportData) -> list[tuple[str, str]]:
    """(hypothesis label, safeguard) for flags, kill switches, tests to add, rollback notes."""
    out = []
    for h in data.hypotheses:
        d = h.design
        if d is None:
            continue
        if d.feature_flag:
            out.append((h.label, f"feature flag: {d.feature_flag}"))
        if d.kill_switch:
            out.append((h.label, f"kill switch: {d.kill_switch}"))
        out.extend((h.label, f"test to add: {t}") for t in d.tests_to_add)
        if d.fallback:
            out.append((h.label, f"fallback: {d.fallback}"))
        if d.rollback:
            out.append((h.label, f"rollback plan: {d.rollback}"))
    return out


def forest_rows(data: ReportData) -> list[tuple[str, WorkloadResult]]:
    """(label, workload result) of the latest validation of each hypothesis, capped."""
    rows = []
    for h in data.hypotheses:
        v = latest_validation(data, h.label)
        if v is None:
            continue
        for w in v.workloads:
            if w.primary is not None and w.primary.ratio is not None:
                rows.append((f"{h.label} {w.workload}", w))
    return rows[:MAX_FOREST_ROWS]


def paired_plot_targets(data: ReportData) -> list[ValidationResult]:
    """Validations whose per-workload sample plots are drawn: the latest of each hypothesis,
    confirmed ones first, capped (the tables carry every number regardless)."""
    order = {"confirmed": 0, "refuted": 1, "rejected": 2, "inconclusive": 3}
    latest = [v for h in data.hypotheses if (v := latest_validation(data, h.label)) is not None]
    with_samples = [v for v in latest if any(w.base_values for w in v.workloads)]
    with_samples.sort(key=lambda v: (order.get(v.outcome, 9), v.hypothesis))
    chosen = {v.id for v in with_samples[:MAX_PAIRED_PLOTS]}
    return [v for v in data.validations if v.id in chosen]
