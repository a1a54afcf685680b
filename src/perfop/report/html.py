"""The HTML report: one self-contained file (inline CSS, plots as inline SVG, no external asset).

Jinja2 with autoescaping on renders ``templates/report.html.j2``; the only markup not escaped is
the SVG matplotlib wrote (which escapes its own text). A Content-Security-Policy meta tag allows
inline styles and data: images and nothing else, so no script can run even if one slipped in.
"""

from __future__ import annotations

import math
from typing import Any

from perfop.report import content as c
from perfop.report.model import ReportData

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
SECTIONS = (
    ("summary", "Summary"),
    ("context", "Context"),
    ("method", "Method"),
    ("baseline", "Baseline"),
    ("hypotheses", "Hypotheses"),
    ("validation", "Validation"),
    ("plots", "Plots"),
    ("mitigation", "Regression mitigation"),
    ("decisions", "Decision log"),
    ("questions", "Open questions"),
    ("follow-ups", "Follow-ups"),
    ("changelog", "Changelog entry"),
)


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("perfop.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


def _bound(mx: float | None, mn: float | None, unit: str | None) -> str:
    parts = []
    if mx is not None:
        parts.append(f"<= {c.fmt(mx, unit or '')}")
    if mn is not None:
        parts.append(f">= {c.fmt(mn, unit or '')}")
    return ", ".join(parts)


def _pct(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1%}"


def _conditions(data: ReportData) -> dict[str, Any]:
    """Template values for the machine-contention blocks (``perfop.report.conditions``)."""
    from perfop.compare.cpuwall import VERDICT_METRIC_RULE
    from perfop.report import conditions

    return {
        "conditions": conditions.rows(data),
        "condition_rule": conditions.RULE,
        "condition_warnings": conditions.warnings(data),
        "baseline_label": conditions.baseline_label,
        "validation_machine": conditions.validation_line,
        "cpu_wall": c.cpu_wall_text,
        "decision_text": c.decision_text,
        "verdict_metric_rule": VERDICT_METRIC_RULE,
    }


def render(data: ReportData, *, with_plots: bool = True) -> str:
    """The whole report as one HTML document."""
    from markupsafe import Markup

    plots: dict[str, dict[str, Any]] = {}
    if with_plots:
        from perfop.report.plots import iter_plots, svg_fragment

        for p in iter_plots(data, "svg"):
            # matplotlib's SVG writer escapes every text it draws; this markup is ours.
            plots[p.key] = {"svg": Markup(svg_fragment(p.content)), "alt": p.alt}
    drawn = sum(1 for k in plots if k.startswith("paired-"))
    with_samples = sum(1 for v in data.validations if any(w.base_values for w in v.workloads))
    note = (
        f"Sample plots are drawn for {drawn} validations (the latest of each hypothesis, "
        f"confirmed first); the tables carry every number of all {with_samples}."
        if with_plots and drawn < with_samples
        else ""
    )
    reverts = c.rollback_entries(data)
    template = _environment().get_template("report.html.j2")
    html: str = template.render(
        d=data,
        sections=[{"id": i, "title": t} for i, t in SECTIONS],
        objective=c.objective(data),
        outcomes=c.outcomes(data),
        risks=c.residual_risks(data),
        reproduce=c.reproduce_commands(data),
        safeguards=c.safeguards(data),
        reverts=reverts,
        tests_run=c.tests_run(data),
        slo_line=c.slo_line,
        slo_state=c.SLO_STATE_LABEL,
        follow_ups=c.follow_ups(data),
        changelog=c.changelog_snippet(data),
        plots=plots,
        measured={b.workload: b.command for b in data.baselines},
        plot_note=note,
        fmt=c.fmt,
        ratio=c.fmt_ratio,
        ci=c.fmt_ci,
        pval=c.fmt_p,
        pct=_pct,
        bound=_bound,
        **_conditions(data),
    )
    return html
