"""The JSON report: every field of ``ReportData`` plus the derived summary, schema-versioned.

Format history (bump the suffix on any incompatible change):
  perfop.report/1 — engagement, settings, environment, workloads, baselines, hypotheses,
                    validations (comparisons, tests, SLOs, profile movers), history, decisions,
                    open questions, and ``summary`` (outcomes, risks, rollback, follow-ups,
                    reproduce commands, changelog). Non-finite numbers are null.
The JSON Schema lives beside this module in ``report.schema.json``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from importlib import resources
from typing import Any

from perfop.report import content as c
from perfop.report.model import REPORT_SCHEMA, History, MetricResult, Outcome, ReportData


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def metric_entry(m: MetricResult) -> dict[str, Any]:
    """A comparison's metric as ``perfop.report/1`` has it: the headline numbers only."""
    return {
        "name": m.name,
        "unit": m.unit,
        "better": m.better,
        "base_median": m.base_median,
        "candidate_median": m.candidate_median,
        "ratio": m.ratio,
        "ci_low": m.ci_low,
        "ci_high": m.ci_high,
        "p_value": m.p_value,
        "verdict": m.verdict.value,
        "mde": m.mde,
    }


def _outcome(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "status": o.status.value,
        "headline": o.headline,
        "rule": o.rule,
        "advice": o.advice,
        "advises_revert": o.advises_revert,
        "regressions": list(o.regressions),
        "residual_risks": list(o.residual_risks),
    }


def _history(h: History) -> dict[str, Any]:
    """A workload's baseline runs as ``perfop.report/1`` has them: one point per run."""
    return {
        "workload": h.workload,
        "metric": h.metric,
        "unit": h.unit,
        "points": [
            {
                "run_id": p.run_ids[0],
                "started_at": p.started_at,
                "sha": p.sha or None,
                "median": p.value,
            }
            for p in h.points
        ],
    }


def report_document(data: ReportData) -> dict[str, Any]:
    body = asdict(data)
    for v, vdoc in zip(data.validations, body["validations"], strict=True):
        vdoc["derived"] = _outcome(v.derived)
        for w, wdoc in zip(v.workloads, vdoc["workloads"], strict=True):
            wdoc["metrics"] = [metric_entry(m) for m in w.metrics]
    body["history"] = [_history(h) for h in data.history]
    body["engagement"]["stakeholders"] = [
        {"name": n, "role": r} for n, r in data.engagement.stakeholders
    ]
    if data.environment is not None:
        body["environment"]["packages"] = dict(data.environment.packages)
    for w in body["workloads"]:
        w["env"] = dict(w["env"])
    summary = {
        "objective": c.objective(data),
        "outcomes": [asdict(o) for o in c.outcomes(data)],
        "residual_risks": c.residual_risks(data),
        "rollback": {h.label: c.revert_command(h) for h in data.hypotheses if h.commits},
        "follow_ups": c.follow_ups(data),
        "reproduce": c.reproduce_commands(data),
        "changelog": c.changelog_snippet(data),
    }
    return _clean({"schema": REPORT_SCHEMA, **body, "summary": summary})  # type: ignore[no-any-return]


def render(data: ReportData) -> str:
    return json.dumps(report_document(data), indent=2, ensure_ascii=False) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ``perfop.report/1`` document."""
    text = (resources.files("perfop.report") / "report.schema.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]
