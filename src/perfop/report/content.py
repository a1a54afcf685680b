"""What a report says, derived from ``ReportData`` by pure functions every renderer shares.

The outcome sentences, residual risks, rollback commands, follow-ups, reproduce commands and the
CHANGELOG snippet are decided here once, so Markdown, HTML and JSON never disagree. Nothing here
escapes: renderers escape for their own format.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfop.records.engagement import done_evidence
from perfop.records.measured import StoredCpuWall, StoredDecision
from perfop.render import format_value, time_scale
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


def fmt_pair(a: float, b: float, unit: str) -> str:
    """``120 -> 65 ms`` when both share a scale, else ``1.28 s -> 74.8 ms``."""
    if unit != "s":
        return f"{fmt(a, unit)} -> {fmt(b, unit)}"
    (sa, ua), (sb, ub) = time_scale(a), time_scale(b)
    if ua == ub:
        return f"{a / sa:.3g} -> {b / sb:.3g} {ua}"
    return f"{a / sa:.3g} {ua} -> {b / sb:.3g} {ub}"


def _interval(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" (CI {low:.2f}-{high:.2f}x)"
    if low is not None:
        return f" (CI >= {low:.2f}x)"
    if high is not None:
        return f" (CI <= {high:.2f}x)"
    return ""


def change_phrase(
    ratio: float | None,
    unit: str,
    better: str,
    ci_low: float | None = None,
    ci_high: float | None = None,
) -> str:
    """``1.84x faster`` / ``1.05x slower`` / ``1.30x higher``; ratios are candidate/base. With
    the ratio's confidence interval: ``2.79x faster (CI 1.31-5.95x)``, in the phrase's terms."""
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return "no estimate"
    timed = unit == "s" and better == "lower"

    def bound(x: float | None) -> float | None:
        return x if x is not None and math.isfinite(x) and x > 0 else None

    lo, hi = bound(ci_low), bound(ci_high)
    if ratio < 1:
        # In speed-up terms the interval flips: (1/high, 1/low); an open end is said as such.
        ci = _interval(1 / hi if hi else None, 1 / lo if lo else None)
        return f"{1 / ratio:.2f}x {'faster' if timed else 'lower'}{ci}"
    if ratio > 1:
        ci = _interval(lo, hi)
        return f"{ratio:.2f}x {'slower' if timed else 'higher'}{ci}"
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
    for state, phrase in (
        ("newly broken", "SLO newly BREACHED"),
        ("made worse", "SLO breached and made worse"),
        ("still not met", "SLO still not met"),
        ("not trusted", "SLO breached under high contention (not trusted)"),
    ):
        if any(s.state == state for s in mine):
            return phrase
    if all(s.passed for s in mine):
        return "SLO met"
    return "SLO not checked"


def slo_line(s: SLOStatus) -> str:
    """``wall_time p95 2.78 s > max 1.00 s (base 4.91 s)``: each value once, with its unit."""
    from perfop.compare.slo import format_slo_value

    label = f"{s.metric} {s.statistic}"
    if s.value is None:
        return f"{label}: no samples to check"
    bounds = []
    if s.max is not None:
        op = ">" if s.value > s.max else "<="
        bounds.append(f"{op} max {format_slo_value(s.max, s.unit)}")
    if s.min is not None:
        op = "<" if s.value < s.min else ">="
        bounds.append(f"{op} min {format_slo_value(s.min, s.unit)}")
    text = f"{label} {format_slo_value(s.value, s.unit)} " + ", ".join(bounds)
    if s.base_value is not None:
        text += f" (base {format_slo_value(s.base_value, s.unit)})"
    if s.contention:
        text += f", measured under high contention ({s.contention})"
    return text


def decision_text(decision: StoredDecision | None) -> str | None:
    """The metric a workload's verdict was decided on, and why (None: not recorded)."""
    return decision.text() if decision is not None else None


def cpu_wall_text(cpu_vs_wall: StoredCpuWall | None) -> str | None:
    """CPU time's ratio beside wall time's, and what their gap means (None: not both)."""
    return cpu_vs_wall.text() if cpu_vs_wall is not None else None


SLO_STATE_LABEL = {
    "met": "met",
    "still not met": "still not met (base breached it too)",
    "newly broken": "**BREACHED** (regression)",
    "made worse": "**BREACHED**, worse than base (regression)",
    "not trusted": "breached under high contention: not trusted",
    "no data": "no data",
}


def workload_sentence(wl: WorkloadResult, slos: Sequence[SLOStatus]) -> str:
    """``parse: 1.84x faster, p95 120 -> 65 ms, SLO met``."""
    pm = wl.primary
    parts = [f"{wl.workload}: "]
    if wl.errors and pm is None:
        parts.append("failed, no verdict")
    elif pm is None:
        parts.append("no result")
    elif wl.verdict == "inconclusive":
        mde = (
            f", minimum detectable effect {pm.mde:.1%}"
            if pm.mde is not None and math.isfinite(pm.mde)
            else ""
        )
        parts.append(
            f"inconclusive after {wl.pairs} pairs (ratio {fmt_ratio(pm.ratio)}, "
            f"CI {fmt_ci(pm.ci_low, pm.ci_high)}{mde})"
        )
    elif wl.verdict == "unchanged":
        parts.append(f"unchanged within the threshold (ratio {fmt_ratio(pm.ratio)})")
    else:
        parts.append(change_phrase(pm.ratio, pm.unit, pm.better, pm.ci_low, pm.ci_high))
    extra = []
    if wl.primary_metric == "wall_time":
        b95, c95 = p95(wl.base_values), p95(wl.candidate_values)
    elif wl.wall_values is not None:  # decided on CPU time: the p95 quoted is still wall time's
        b95, c95 = p95(wl.wall_values[0]), p95(wl.wall_values[1])
    else:
        b95 = c95 = None
    if b95 is not None and c95 is not None:
        extra.append(f"p95 {fmt_pair(b95, c95, 's' if wl.wall_values else wl.unit)}")
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
class SummaryLine:
    """One line of the summary: a hypothesis and what its latest validation showed."""

    label: str
    status: str
    statement: str
    sentence: str


@dataclass(frozen=True)
class HypothesisOutcome:
    """What the report says about one hypothesis: the outcome of its latest validation
    (recomputed under ``engagement.outcome.RULES``), or its recorded status without one.
    Summary, follow-ups, rollback advice and changelog entry all read this one object."""

    label: str
    status: str  # the outcome's status; "reverted" once a person reverted it
    headline: str  # "confirmed — SLO still not met"
    advice: str
    advises_revert: bool
    regressions: tuple[str, ...]
    residual_risks: tuple[str, ...]
    recorded: str  # the status stored on the hypothesis
    validation: ValidationResult | None


def hypothesis_outcome(data: ReportData, h: HypothesisInfo) -> HypothesisOutcome:
    v = latest_validation(data, h.label)
    d = v.derived if v is not None else None
    # A status a person set after the validation (reverted, rejected on review ...) stands.
    if d is None or v is None or h.status == "reverted" or h.status != v.outcome:
        return HypothesisOutcome(
            h.label,
            h.status,
            h.status,
            "",
            h.status in ("refuted", "rejected"),
            (),
            (),
            h.status,
            v,
        )
    return HypothesisOutcome(
        h.label,
        d.status.value,
        d.headline,
        d.advice,
        d.advises_revert,
        d.regressions,
        d.residual_risks,
        h.status,
        v,
    )


def hypothesis_outcomes(data: ReportData) -> dict[str, HypothesisOutcome]:
    return {h.label: hypothesis_outcome(data, h) for h in data.hypotheses}


def outcomes(data: ReportData) -> list[SummaryLine]:
    """One sentence per validated (or closed) hypothesis, confirmed first, honest about the rest."""
    order = {"confirmed": 0, "refuted": 1, "inconclusive": 2, "rejected": 3, "reverted": 4}
    out = []
    for h in data.hypotheses:
        ho = hypothesis_outcome(data, h)
        v = ho.validation
        if v is None and h.status not in order:
            continue
        if v is not None and v.workloads:
            text = "; ".join(workload_sentence(w, v.slos) for w in v.workloads)
        elif v is not None:
            text = "; ".join(v.reasons) or "validated without comparison data"
        else:
            text = f"marked {h.status} without a validation"
        if ho.status == "refuted":
            text += f" (predicted {fmt_ratio(h.expected_ratio)}x on {h.metric})"
        if v is not None and v.tests is not None and v.tests.passed is not None:
            text += ", tests passed" if v.tests.passed else ", tests FAILED"
        if ho.headline != ho.status:
            text += f" — {ho.headline.split(' — ', 1)[1]}"
        if ho.recorded not in (ho.status, "reverted"):
            text += (
                f" (recorded as {ho.recorded} under earlier rules; run perfop validate "
                f"{h.label} to update the record)"
            )
        out.append(SummaryLine(h.label, ho.status, h.statement, text))
    out.sort(key=lambda o: (order.get(o.status, 9), o.label))
    return out


def objective(data: ReportData) -> str:
    goals = [g.text for g in data.engagement.goals]
    return "; ".join(goals) if goals else data.engagement.title


def residual_risks(data: ReportData) -> list[str]:
    """Risks of the latest validation of each hypothesis still in play (superseded validations
    and reverted hypotheses say nothing about what ships)."""
    risks = [d.what for d in data.decisions if d.kind == "risk"]
    for h in data.hypotheses:
        ho = hypothesis_outcome(data, h)
        v = ho.validation
        if v is None or ho.status == "reverted":
            continue
        risks += [f"{h.label}: regression: {r}" for r in ho.regressions]
        risks += [f"{h.label}: {r}" for r in ho.residual_risks]
        for w in v.workloads:
            if w.behavior == "changed":
                risks.append(f"{h.label}: {w.workload} output changed at the candidate")
            if w.harness_touched:
                risks.append(
                    f"{h.label}: the candidate changes {w.workload}'s benchmark files "
                    f"(measured with the {w.harness} harness)"
                )
            if w.errors:
                risks.append(f"{h.label}: {w.workload} failed during the comparison")
        if v.derived is None:
            risks += [
                f"{h.label}: SLO breached: {s.workload} {slo_line(s)}"
                for s in v.slos
                if s.passed is False
            ]
        if v.tests is not None and v.tests.passed is False:
            risks.append(f"{h.label}: tests failed at the candidate")
        risks += [f"{h.label}: {g}" for g in v.goals_unmet]
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


def rollback_entries(data: ReportData) -> list[tuple[str, str]]:
    """(comment, ``git revert`` command) per hypothesis with candidate commits, saying whether
    reverting is advised (the evidence contradicts it) or only there if it must be undone."""
    out = []
    for h in data.hypotheses:
        cmd = revert_command(h)
        if not cmd or h.status == "reverted":
            continue
        ho = hypothesis_outcome(data, h)
        subjects = ", ".join(f"{x.sha[:12]} {x.subject}" for x in h.commits)
        if ho.advises_revert:
            why = f"advised: {ho.advice}"
        elif ho.status == "confirmed":
            why = "keep it; this undoes it only if it must be rolled back later"
        else:
            why = f"not advised yet: {ho.advice}" if ho.advice else "not advised"
        out.append((f"{h.label} ({ho.headline}): {why}; commits {subjects}", cmd))
    return out


def tests_run(data: ReportData) -> list[tuple[str, str, str]]:
    """(hypotheses, command, result) of the latest validation of each hypothesis, one row per
    distinct command and result."""
    rows: dict[tuple[str, str], list[str]] = {}
    for h in data.hypotheses:
        v = latest_validation(data, h.label)
        if v is None or v.tests is None:
            continue
        state = {True: "passed", False: "FAILED", None: "unknown"}[v.tests.passed]
        rows.setdefault((v.tests.command, state), []).append(h.label)
    return [
        (", ".join(sorted(labels, key=_label_key)), cmd, state)
        for (cmd, state), labels in rows.items()
    ]


def _label_key(label: str) -> tuple[int, str]:
    digits = label[1:]
    return (int(digits), label) if digits.isdigit() else (0, label)


def reproduce_commands(data: ReportData) -> list[str]:
    """The exact ``perfop compare`` of each validation's comparison (refs pinned by sha, its own
    seed and budget flags), each after a comment naming the validations it reproduces; a
    baseline run when there is no validation."""
    groups: dict[str, list[ValidationResult]] = {}
    for v in data.validations:
        if v.reproduce is not None:
            groups.setdefault(v.reproduce, []).append(v)
    cmds: list[str] = []
    for cmd, vals in groups.items():
        labels = ", ".join(dict.fromkeys(v.hypothesis for v in vals))
        ids = ", ".join(str(v.id) for v in vals)
        cids = sorted({w.comparison_id for v in vals for w in v.workloads if w.comparison_id})
        which = f"; comparison {', '.join(map(str, cids))}" if cids else ""
        plural = "s" if len(vals) > 1 else ""
        cmds += [f"# {labels}: validation{plural} {ids}{which}", cmd]
    if not cmds:
        cmds.append("perfop run " + " ".join(w.name for w in data.workloads))
    return cmds


def follow_ups(data: ReportData) -> list[str]:
    items = [d.what for d in data.decisions if d.kind == "follow-up"]
    for h in data.hypotheses:
        ho = hypothesis_outcome(data, h)
        status = ho.status
        if ho.validation is not None and status != "reverted":
            if status == "confirmed" and ho.regressions:
                items.append(f"{h.label} is confirmed with a regression: {ho.advice}")
            elif status == "confirmed" and ho.residual_risks:
                items.append(f"{h.label} is {ho.headline}: {ho.advice}")
            elif status == "refuted":
                items.append(f"{h.label} was refuted: {ho.advice or 'revise the hypothesis'}")
            elif status == "rejected":
                items.append(f"{h.label} was rejected: {ho.advice}")
            elif status == "inconclusive":
                items.append(f"{h.label} is inconclusive: {ho.advice}")
        elif status == "inconclusive":
            items.append(
                f"{h.label} is inconclusive: re-validate with a larger budget "
                "(max_time, max_pairs) or CPU affinity, or drop it"
            )
        elif status in ("refuted", "rejected"):
            items.append(f"{h.label} was {status}: revert the candidate or revise the hypothesis")
        elif status in ("proposed", "designed", "approved"):
            items.append(f"{h.label} ({status}) is not implemented yet")
        elif status == "implemented":
            items.append(f"{h.label} is implemented but not validated: perfop validate {h.label}")
    if data.hypotheses and not data.acceptances:
        items.append("stakeholder sign-off of the trade-offs: perfop accept --by NAME")
    return list(dict.fromkeys(items))


def changelog_snippet(data: ReportData) -> str:
    """A Keep a Changelog entry for the confirmed hypotheses, ready to paste."""
    lines = ["### Changed"]
    for h in data.hypotheses:
        ho = hypothesis_outcome(data, h)
        if ho.status != "confirmed":
            continue
        v = ho.validation
        detail = ""
        if v is not None and v.workloads:
            detail = " (" + "; ".join(workload_sentence(w, v.slos) for w in v.workloads) + ")"
            if v.stacked_on:
                # Its base was that hypothesis's candidate: the gain is this change's own, on top
                # of the other's, not a second share of one combined effect.
                detail = detail[:-1] + f"; on top of {v.stacked_on})"
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
        for t in d.tests_to_add:
            proof = done_evidence(d.done, t)
            if proof is not None:
                out.append((h.label, f"test added: {t} ({proof})"))
            else:
                out.append((h.label, f"test to add: {t}"))
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
