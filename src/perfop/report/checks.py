"""The report's item of the hand-off checklist: a report was generated after the last validation.

Loaded by ``perfop.engagement.checks.verify`` through ``CHECK_PLUGINS``, so the store never
imports a service and the engagement package never imports the report package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfop.engagement.checks import register_check
from perfop.engagement.hints import NextStep
from perfop.store.reports import list_reports

if TYPE_CHECKING:
    from perfop.engagement.checks import VerifyContext


REPORT_STEP = NextStep("", "perfop report -o report.md", "report", {})


def check_report_fresh(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    """Verify item: a report was generated after the engagement's last validation."""
    last = ctx.last_validation
    if last is None:
        label = next((h.label for h in ctx.hypotheses if h.candidate_sha), None)
        step = NextStep("", f"perfop validate {label}", "validate", {"label": label})
        return False, "nothing validated yet (validate, then report)", step if label else None
    done = list_reports(ctx.store, ctx.engagement.id)
    fresh = [r for r in done if r.created_at >= last.created_at]
    if fresh:
        r = fresh[-1]
        return True, f"{r.format} report {r.path or '(stdout)'} at {r.created_at}", None
    if done:
        return (
            False,
            f"the last report ({done[-1].created_at}) predates the last validation "
            f"({last.created_at})",
            REPORT_STEP,
        )
    return False, "no report generated", REPORT_STEP


register_check("report generated after the last validation", check_report_fresh)
