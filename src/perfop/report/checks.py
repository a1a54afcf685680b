"""The report's item of the hand-off checklist: a report was generated after the last validation.

Loaded by ``perfop.engagement.checks.verify`` through ``CHECK_PLUGINS``, so the store never
imports a service and the engagement package never imports the report package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from perfop.engagement.checks import register_check
from perfop.store.reports import list_reports

if TYPE_CHECKING:
    from perfop.engagement.checks import VerifyContext


def check_report_fresh(ctx: VerifyContext) -> tuple[bool, str]:
    """Verify item: a report was generated after the engagement's last validation."""
    last = ctx.last_validation
    if last is None:
        return False, "nothing validated yet; run perfop validate H, then perfop report"
    done = list_reports(ctx.store, ctx.engagement.id)
    fresh = [r for r in done if r.created_at >= last.created_at]
    if fresh:
        r = fresh[-1]
        return True, f"{r.format} report {r.path or '(stdout)'} at {r.created_at}"
    if done:
        return False, (
            f"the last report ({done[-1].created_at}) predates the last validation "
            f"({last.created_at}); run: perfop report -o report.md"
        )
    return False, "no report generated; run: perfop report -o report.md"


register_check("report generated after the last validation", check_report_fresh)
