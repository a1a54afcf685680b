"""The Markdown report: GitHub-flavoured, fit for a PR description and ``$GITHUB_STEP_SUMMARY``.

``render(data, plots=None)`` returns text. ``plots`` maps plot keys (see ``report.plots``) to
image paths relative to the Markdown file; without it no image is referenced. Every user-supplied
string is escaped (``md``/``cell``) so it shows as written and cannot inject HTML or break a table;
long parts (environment, commands output, decision log) fold into ``<details>``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from perfop.compare.cpuwall import VERDICT_METRIC_RULE
from perfop.report import content as c
from perfop.report.model import Baseline, EnvironmentInfo, ReportData, ValidationResult

SECTIONS = (
    "Summary",
    "Context",
    "Method",
    "Baseline",
    "Hypotheses",
    "Validation",
    "Plots",
    "Regression mitigation",
    "Decision log",
    "Open questions",
    "Follow-ups",
    "Changelog entry",
)

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<|~])")


_ENTITIES = {"<": "&lt;"}


def md(text: object) -> str:
    """Inline text: Markdown and HTML specials escaped, newlines folded to spaces."""
    s = " ".join(str(text).split())
    s = s.replace("&", "&amp;")
    return _MD_SPECIAL.sub(lambda m: _ENTITIES.get(m.group(1), "\\" + m.group(1)), s)


def cell(text: object) -> str:
    """A table cell: like ``md`` (pipes are escaped there too); empty becomes '-'."""
    out = md(text)
    return out if out else "-"


def code(text: object) -> str:
    """An inline code span that survives any backticks and pipes inside."""
    s = " ".join(str(text).split()).replace("|", "\\|")
    if not s:
        return "-"
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{ticks}{pad}{s}{pad}{ticks}"


def fence(text: str, lang: str = "") -> list[str]:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{lang}", text.rstrip("\n"), ticks]


def details(summary: str, body: Sequence[str]) -> list[str]:
    return ["<details>", f"<summary>{_html(summary)}</summary>", "", *body, "", "</details>"]


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A GFM table; cells must already be escaped."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out.extend("| " + " | ".join(r) + " |" for r in rows)
    return out


def bullets(items: Sequence[str], empty: str = "_none_") -> list[str]:
    return [f"- {i}" for i in items] if items else [empty]


def _summary(data: ReportData) -> list[str]:
    out = [f"**Objective:** {md(c.objective(data))}", ""]
    outcomes = c.outcomes(data)
    if outcomes:
        out.append("**Outcome:**")
        out.extend(
            f"- **{o.label} {o.status}**: {md(o.sentence)} ({md(o.statement)})" for o in outcomes
        )
    else:
        out.append("**Outcome:** no hypothesis validated yet.")
    out += ["", "**Residual risks:**", *bullets([md(r) for r in c.residual_risks(data)])]
    return out


def _context(data: ReportData) -> list[str]:
    e = data.engagement
    rows = [
        ["Engagement", cell(f"#{e.id} {e.title} (stage {e.stage})")],
        ["Requester", cell(e.requester or "")],
        ["Stakeholders", cell(", ".join(f"{n} ({r})" for n, r in e.stakeholders))],
        ["Scenario", cell(e.scenario or "")],
        ["Risk tolerance", cell(e.risk_tolerance or "")],
        ["Base", code(e.base) if e.base else "-"],
        ["Intake confirmed", cell(e.confirmed_at or "no")],
    ]
    for label, value in (("Hardware", e.hardware), ("Dataset", e.dataset), ("Traffic", e.traffic)):
        if value:
            rows.append([label, cell(value)])
    out = table(["", ""], rows)
    goals = [
        md(g.text) + (f" (target: {md(g.metric or '')} {md(g.target)})" if g.target else "")
        for g in e.goals
    ]
    out += ["", "**Goals:**", *bullets(goals)]
    slos = [
        [cell(s.workload), cell(s.metric), cell(s.statistic), cell(_bound(s.max, s.min, s.unit))]
        for s in e.slos
    ]
    if slos:
        out += [
            "",
            "**SLO targets:**",
            "",
            *table(["workload", "metric", "statistic", "bound"], slos),
        ]
    out += ["", "**Constraints:**", *bullets([md(x) for x in e.constraints])]
    out += ["", "**Assumptions:**", *bullets([md(x) for x in e.assumptions])]
    return out


def _bound(mx: float | None, mn: float | None, unit: str | None) -> str:
    u = unit or ""
    parts = []
    if mx is not None:
        parts.append(f"<= {c.fmt(mx, u)}")
    if mn is not None:
        parts.append(f">= {c.fmt(mn, u)}")
    return ", ".join(parts)


def _method(data: ReportData) -> list[str]:
    s = data.settings
    out = []
    env = data.environment
    if env is not None:
        mem = c.fmt(float(env.memory_bytes), "B") if env.memory_bytes else "-"
        out += table(
            ["environment", ""],
            [
                ["CPU", cell(f"{env.cpu} ({env.logical_cores} logical cores)")],
                ["Memory", cell(mem)],
                ["OS", cell(env.os or "")],
                ["Host", cell(env.hostname or "")],
                ["perfop", cell(f"{data.perfop_version} (on {env.python or '?'})")],
                ["Baseline git sha", code(env.git_sha) if env.git_sha else "-"],
            ],
        )
        out += ["", *_measured_env(env)]
    else:
        out.append("_No environment recorded (no baseline run)._")
    out += ["", "**Workloads (exact commands):**", ""]
    measured = {b.workload: b.command for b in data.baselines}
    out += table(
        ["workload", "configured command", "baseline ran", "env", "budget"],
        [
            [
                cell(w.name),
                code(w.command),
                code(measured[w.name]) if w.name in measured else "-",
                cell(", ".join(f"{k}={v}" for k, v in w.env)),
                cell(w.budget),
            ]
            for w in data.workloads
        ],
    )
    affinity = ",".join(map(str, s.affinity)) if s.affinity else "none"
    out += [
        "",
        f"**Settings:** threshold {s.threshold:.1%}, alpha {s.alpha:g}, "
        f"seed {s.seed if s.seed is not None else 'random (recorded per comparison)'}, "
        f"CPU affinity {affinity}, tests {code(s.test_command) if s.test_command else 'none'}, "
        f"config {md(s.config_file)}.",
        "",
        f"**Verdict metric:** {md(VERDICT_METRIC_RULE)}",
        "",
        "**Reproduce:**",
        "",
        *fence("\n".join(c.reproduce_commands(data)), "sh"),
    ]
    return out + _conditions(data)


def _conditions(data: ReportData) -> list[str]:
    """Machine contention during each baseline and validation, with warnings when high."""
    from perfop.report import conditions

    found = conditions.rows(data)
    if not found:
        return []
    out = ["", "**Machine contention during each measurement:**", ""]
    out += table(
        ["measurement", "values", "contention", "load", "others' CPU", "CPU pressure"],
        [
            [
                cell(r.measurement),
                cell("absolute" if r.kind == "absolute" else "paired ratios"),
                f"**{md(r.level)}**" if r.level == "high" else cell(r.level),
                cell(r.load),
                cell(r.others),
                cell(r.pressure),
            ]
            for r in found
        ],
    )
    out += ["", f"_Rule: {md(conditions.RULE)}._"]
    for text in conditions.warnings(data):
        out += ["", f"> **Warning:** {md(text)}"]
    return out


def _measured_env(env: EnvironmentInfo) -> list[str]:
    if not env.measured:
        return ["_The measured project's interpreter was not recorded (validate probes it)._"]
    out = [f"**Measured project's interpreter** (from {md(env.measured_from or '?')}):", ""]
    out += table(
        ["side", "workloads", "interpreter", "Python", "packages"],
        [
            [
                cell(m.side),
                cell(", ".join(m.workloads)),
                code(m.executable),
                cell(m.python),
                str(len(m.packages)) if m.packages else "-",
            ]
            for m in env.measured
        ],
    )
    for m in env.measured:
        if m.packages:
            pkgs = "\n".join(f"{name}=={ver}" for name, ver in m.packages)
            title = f"Installed packages, {m.side} ({len(m.packages)})"
            out += ["", *details(title, fence(pkgs))]
    return out


def _baseline(data: ReportData) -> list[str]:
    if not data.baselines:
        return ["_No baseline run recorded._"]
    rows = []
    for b in data.baselines:
        for m in b.metrics:
            rows.append(
                [
                    cell(b.workload),
                    cell(m.metric),
                    cell(c.fmt(m.median, m.unit)),
                    cell(c.fmt(m.p95, m.unit)),
                    cell(f"{m.cv:.1%}" if m.cv == m.cv else "-"),
                    cell(f"{m.n}" + (f" (+{b.failures} failed)" if b.failures else "")),
                    cell(f"run {b.run_id} @ {(b.sha or '?')[:12]}" + _baseline_label(b)),
                ]
            )
    return table(["workload", "metric", "median", "p95", "cv", "samples", "evidence"], rows)


def _validation_machine(v: ValidationResult) -> list[str]:
    """CPU time beside wall time per workload, and the machine's contention, under a validation."""
    from perfop.report import conditions

    out = []
    for w in v.workloads:
        decided = c.decision_text(w.decision)
        if decided:
            out += ["", f"**Decided on** ({md(w.workload)}): {md(decided)}"]
        text = c.cpu_wall_text(w.cpu_vs_wall)
        if text:
            out += ["", f"**CPU time** ({md(w.workload)}): {md(text)}"]
    line = conditions.validation_line(v)
    if line:
        out += ["", f"**Machine:** {md(line.removeprefix('machine: '))}"]
    return out


def _baseline_label(b: Baseline) -> str:
    from perfop.report import conditions

    label = conditions.baseline_label(b)
    return f" ({label})" if label else ""


def _hypotheses(data: ReportData) -> list[str]:
    if not data.hypotheses:
        return ["_No hypothesis logged._"]
    rows = []
    for h in data.hypotheses:
        measured = c.fmt_ratio(h.measured_ratio) if h.measured_ratio is not None else "-"
        rows.append(
            [
                str(h.rank),
                cell(h.label),
                cell(h.statement),
                cell(f"{h.metric} x{c.fmt_ratio(h.expected_ratio)}"),
                cell(measured),
                f"**{md(h.status)}**",
                cell(h.risk),
                cell(", ".join(h.evidence)),
            ]
        )
    header = ["rank", "id", "statement", "predicted", "measured", "status", "risk", "evidence"]
    return table(header, rows)


_METRIC_HEADER = [
    "workload",
    "metric",
    "base median",
    "candidate median",
    "ratio",
    "CI",
    "p",
    "verdict",
    "pairs",
]


def _validation_metrics(v: ValidationResult) -> list[str]:
    """The table of every compared metric, or a line saying there is none."""
    rows = []
    for w in v.workloads:
        for m in w.metrics:
            rows.append(
                [
                    cell(w.workload),
                    cell(m.name + (" (primary)" if m.name == w.primary_metric else "")),
                    cell(c.fmt(m.base_median, m.unit)),
                    cell(c.fmt(m.candidate_median, m.unit)),
                    cell(c.fmt_ratio(m.ratio)),
                    cell(c.fmt_ci(m.ci_low, m.ci_high)),
                    cell(c.fmt_p(m.p_value)),
                    f"**{md(m.verdict)}**",
                    str(w.pairs),
                ]
            )
    if rows:
        return ["", *table(_METRIC_HEADER, rows)]
    return ["", "_No comparison data stored for this validation._"]


def _validation_behaviour(v: ValidationResult) -> list[str]:
    behaviour = [
        f"{md(w.workload)}: {md(w.behavior)}"
        + (f", harness {md(w.harness)}" + (" (candidate touches it)" if w.harness_touched else ""))
        for w in v.workloads
    ]
    out = ["", "**Behaviour:** " + ("; ".join(behaviour) if behaviour else "not checked")]
    for w in v.workloads:
        if w.behavior_note:
            out += ["", f"{md(w.workload)} behaviour check: {md(w.behavior_note)}"]
        if w.behavior_diff:
            out += ["", *details(f"{md(w.workload)} output diff", fence(w.behavior_diff, "diff"))]
        if w.errors:
            out += ["", *details(f"{md(w.workload)} failures", fence("\n".join(w.errors)))]
    return out


def _validation_tests(v: ValidationResult) -> list[str]:
    t = v.tests
    if t is None:
        return ["", "**Tests:** not run"]
    state = {True: "passed", False: "FAILED", None: "unknown"}[t.passed]
    base = "" if t.base_passed is None else f" (at base: {'passed' if t.base_passed else 'failed'})"
    out = ["", f"**Tests:** {state}{base}: {code(t.command)} {md(t.summary)}"]
    if t.output_tail.strip():
        out += ["", *details("Test output (tail)", fence(t.output_tail))]
    return out


def _validation_slos(v: ValidationResult) -> list[str]:
    if not v.slos:
        return ["", "**SLOs:** none configured for these workloads"]
    out = ["", "**SLOs** (checked at the candidate and at base, same comparison):", ""]
    return out + table(
        ["workload", "SLO", "status"],
        [
            [cell(s.workload), cell(c.slo_line(s)), c.SLO_STATE_LABEL.get(s.state, md(s.state))]
            for s in v.slos
        ],
    )


def _validation_movers(v: ValidationResult) -> list[str]:
    if not v.movers:
        return []
    out = ["", "**Profile diff, top movers (CPU self time per run):**", ""]
    return out + table(
        ["function", "file", "change", "base", "candidate", "self % base -> candidate"],
        [
            [
                code(m.function),
                cell(m.file),
                cell(m.status),
                cell(c.fmt(m.base_value, m.unit)),
                cell(c.fmt(m.candidate_value, m.unit)),
                cell(f"{m.base_pct:.1f} -> {m.candidate_pct:.1f}"),
            ]
            for m in v.movers
        ],
    )


def _validation(v: ValidationResult, plots: Mapping[str, str]) -> list[str]:
    headline = v.derived.headline if v.derived is not None else v.outcome
    out = [
        f"### {md(v.hypothesis)}: {md(headline)} "
        f"({code(v.candidate_ref)} {v.candidate_sha[:12]} vs {code(v.base_ref)} "
        f"{v.base_sha[:12]})",
        "",
    ]
    out += bullets([md(r) for r in v.reasons])
    out += _validation_metrics(v)
    out += _validation_machine(v)
    out += _validation_behaviour(v)
    out += _validation_tests(v)
    out += _validation_slos(v)
    out += _validation_movers(v)
    key = f"paired-{v.id}"
    if key in plots:
        out += ["", f"![{md(v.hypothesis)} paired samples]({plots[key]})"]
    return out


def _validations(data: ReportData, plots: Mapping[str, str]) -> list[str]:
    if not data.validations:
        return ["_No validation yet._"]
    latest = {v.hypothesis: v.id for v in data.validations}  # validations are oldest first
    out: list[str] = []
    for v in data.validations:
        if latest[v.hypothesis] == v.id:
            out += [*_validation(v, plots), ""]
    earlier = [v for v in data.validations if latest[v.hypothesis] != v.id]
    if earlier:
        body: list[str] = []
        for v in earlier:
            body += [*_validation(v, plots), ""]
        out += [*details(f"Earlier validations ({len(earlier)})", body[:-1]), ""]
    return out[:-1]


def _plots(data: ReportData, plots: Mapping[str, str]) -> list[str]:
    shown = [(k, p) for k, p in plots.items() if not k.startswith("paired-")]
    if not shown:
        return ["_Plots are written beside the Markdown file (perfop report -o FILE.md)._"]
    out = [f"![{md(k)}]({p})" for k, p in shown]
    drawn = sum(1 for k in plots if k.startswith("paired-"))
    total = sum(1 for v in data.validations if any(w.base_values for w in v.workloads))
    if drawn < total:
        out += [
            "",
            f"_Sample plots are drawn for {drawn} validations (the latest of each hypothesis, "
            f"confirmed first); the tables carry every number of all {total}._",
        ]
    return out


def _mitigation(data: ReportData) -> list[str]:
    out = []
    tests = [f"{md(labels)}: {code(cmd)} {state}" for labels, cmd, state in c.tests_run(data)]
    out += ["**Tests run:**", *bullets(tests, "_no test run recorded_")]
    guards = [f"{md(label)}: {md(text)}" for label, text in c.safeguards(data)]
    out += ["", "**Safeguards (flags, kill switches, tests to add, fallback):**", *bullets(guards)]
    out += ["", "**Rollback:**", ""]
    reverts = [line for comment, cmd in c.rollback_entries(data) for line in (f"# {comment}", cmd)]
    out += fence("\n".join(reverts), "sh") if reverts else ["_No candidate commit recorded._"]
    return out


def _decisions(data: ReportData) -> list[str]:
    if not data.decisions:
        return ["_Empty._"]
    rows = [
        [
            cell(d.ts[:19].replace("T", " ")),
            cell(d.actor),
            cell(d.kind),
            cell(d.what),
            cell(d.why or ""),
            cell(", ".join(d.evidence)),
        ]
        for d in data.decisions
    ]
    body = table(["time (UTC)", "actor", "kind", "what", "why", "evidence"], rows)
    return details(f"{len(rows)} decision-log entries", body)


def render(data: ReportData, plots: Mapping[str, str] | None = None) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    plots = plots or {}
    e = data.engagement
    parts: dict[str, list[str]] = {
        "Summary": _summary(data),
        "Context": _context(data),
        "Method": _method(data),
        "Baseline": _baseline(data),
        "Hypotheses": _hypotheses(data),
        "Validation": _validations(data, plots),
        "Plots": _plots(data, plots),
        "Regression mitigation": _mitigation(data),
        "Decision log": _decisions(data),
        "Open questions": bullets([md(q) for q in data.open_questions])
        + (
            ["", "Answered:", "", *bullets([md(q) for q in data.answered_questions])]
            if data.answered_questions
            else []
        ),
        "Follow-ups": bullets([md(x) for x in c.follow_ups(data)]),
        "Changelog entry": fence(c.changelog_snippet(data), "markdown"),
    }
    lines = [f"# Performance report: {md(e.title)}", ""]
    for name in SECTIONS:
        lines += [f"## {name}", "", *parts[name], ""]
    lines.append(
        f"<sub>Generated by perfop {md(data.perfop_version)} at {md(data.generated_at)} "
        f"for {md(data.repository)}; every number above comes from the perfop store.</sub>"
    )
    return "\n".join(lines) + "\n"
