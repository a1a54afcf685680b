"""MCP resources: the current engagement (recap, stage, hypotheses) and the latest report.

Each resource reads through the same services as the tools; the server redacts what they return.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from perfop.errors import UsageError
from perfop.mcp.tools import App


@dataclass(frozen=True)
class Resource:
    uri: str
    name: str
    description: str
    mime: str
    read: Callable[[App], str]


def _engagement(app: App) -> str:
    from perfop.services.engagement_tools import current_engagement

    return json.dumps(current_engagement(app), indent=2, default=str)


def _report(app: App) -> str:
    from perfop.report import render
    from perfop.report.data import collect

    return render(collect(app.store, app.loaded), "md")


RESOURCES: dict[str, Resource] = {
    "perfop://engagement/current": Resource(
        "perfop://engagement/current",
        "current-engagement",
        "The current engagement: intake recap and open questions, lifecycle stage and next step, "
        "ranked hypotheses with their status.",
        "application/json",
        _engagement,
    ),
    "perfop://report/latest": Resource(
        "perfop://report/latest",
        "latest-report",
        "The current engagement's report in Markdown, rendered from the latest evidence in the "
        "store (what the report tool would write now; reading it records nothing).",
        "text/markdown",
        _report,
    ),
}


def available() -> list[Resource]:
    return list(RESOURCES.values())


def find(uri: str) -> Resource:
    try:
        return RESOURCES[uri]
    except KeyError:
        known = ", ".join(RESOURCES)
        raise UsageError(f"unknown resource {uri!r}; known: {known}") from None
