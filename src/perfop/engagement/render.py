"""Text renderings of engagement records for the terminal: functions return Rich renderables or
strings and never print (the CLI's console does).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from perfop.engagement.hypotheses import RANKING_FORMULA, RankedHypothesis

if TYPE_CHECKING:
    from rich.table import Table

    from perfop.engagement.checks import CheckResult, StatusReport
    from perfop.engagement.inventory import Inventory
    from perfop.engagement.lifecycle import HypothesisDetail
    from perfop.engagement.records import Decision, Engagement


def _table(title: str | None, *columns: str) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def inventory_table(inv: Inventory) -> Table:
    table = _table("Inventory", "category", "kind", "path", "detail")
    for category, f in inv.rows():
        table.add_row(category, f.kind, f.path, f.detail)
    empty = [c for c in inv.CATEGORIES if not getattr(inv, c)]
    if empty:
        table.caption = "nothing found for: " + ", ".join(empty)
    return table


def hypotheses_table(ranked: Sequence[RankedHypothesis]) -> Table:
    table = _table(
        "Hypotheses (ranked)",
        "rank",
        "id",
        "status",
        "risk",
        "metric",
        "expect",
        "effort (d)",
        "conf",
        "gain",
        "score",
        "statement",
    )
    for r in ranked:
        h = r.hypothesis
        table.add_row(
            str(r.rank),
            h.label,
            h.status.value,
            h.risk,
            h.metric,
            f"{h.expected_ratio:g}",
            f"{h.effort:g}",
            f"{h.confidence:g}",
            f"{r.gain:.1f}",
            f"{r.score:.2f}",
            h.statement,
        )
    table.caption = RANKING_FORMULA
    return table


def hypothesis_text(detail: HypothesisDetail) -> str:
    h = detail.hypothesis
    lines = [
        f"{h.label} [{h.status.value}] {h.statement}",
        f"  root cause:   {h.root_cause or '-'}",
        f"  components:   {', '.join(h.components) or '-'}",
        f"  workloads:    {', '.join(h.workloads) or '-'}",
        f"  prediction:   {h.metric} x{h.expected_ratio:g} (candidate/base)",
        f"  effort:       {h.effort:g} person-day(s); confidence {h.confidence:g}; risk {h.risk}"
        + (" (needs human approval)" if detail.needs_approval else ""),
        f"  verification: {'; '.join(h.verification) or '-'}",
        f"  evidence:     {', '.join(h.evidence) or '-'}",
        f"  candidate:    {h.candidate_ref or '-'}"
        + (f" ({h.candidate_sha[:12]})" if h.candidate_sha else ""),
    ]
    if detail.design:
        d = detail.design
        lines.append(f"  design:       {d.fix}")
        for key in (
            "fallback",
            "data_collection",
            "feature_flag",
            "kill_switch",
            "rollback",
            "coverage",
        ):
            value = getattr(d, key)
            if value:
                lines.append(f"    {key.replace('_', ' ')}: {value}")
        if d.tests_to_add:
            lines.append(f"    tests to add: {'; '.join(d.tests_to_add)}")
    for a in detail.approvals:
        lines.append(f"  approved by {a.by} at {a.created_at}" + (f": {a.note}" if a.note else ""))
    for v in detail.validations:
        lines.append(f"  validation {v.id}: {v.outcome.value} at {v.candidate_sha[:12]}")
        lines.extend(f"    - {r}" for r in v.reasons)
    return "\n".join(lines)


def log_table(entries: Sequence[Decision]) -> Table:
    table = _table("Decision log", "#", "time", "actor", "kind", "what", "why", "evidence")
    for d in entries:
        table.add_row(
            str(d.id), d.ts[:19], d.actor, d.kind, d.what, d.why or "", ", ".join(d.evidence)
        )
    return table


def engagements_table(items: Sequence[Engagement]) -> Table:
    table = _table("Engagements", "id", "current", "stage", "confirmed", "title")
    for e in items:
        table.add_row(
            str(e.id),
            "*" if e.current else "",
            e.stage.value,
            "yes" if e.confirmed_at else "no",
            e.title,
        )
    return table


def status_text(report: StatusReport) -> str:
    eng = report.engagement
    if eng is None:
        return f"No engagement yet.\nNext: {report.next_step}"
    lines = [
        f"Engagement {eng.id}: {eng.title}",
        f"Stage: {report.stage.value}",
        "Done:",
    ]
    lines += [f"  - {d}" for d in report.done]
    lines.append(f"Next: {report.next_step}")
    return "\n".join(lines)


def verify_text(results: Sequence[CheckResult]) -> str:
    lines = [f"[{'pass' if r.passed else 'FAIL'}] {r.name}: {r.text('cli')}" for r in results]
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed}/{len(results)} checks passed")
    return "\n".join(lines)
