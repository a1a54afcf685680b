"""Every tool, in one explicit table: importing this module registers them all in
``perfop.services.table.TOOLS`` (the MCP server lists that table; the agent runner wraps it).

A new tool module is added here, and only here.
"""

from __future__ import annotations

from perfop.services import engagement_tools as engagement_tools
from perfop.services import hypothesis_tools as hypothesis_tools
from perfop.services import measure_tools as measure_tools
from perfop.services import validation_tools as validation_tools
from perfop.services.table import TOOLS, Tool

MODULES = (engagement_tools, hypothesis_tools, measure_tools, validation_tools)


def tools() -> dict[str, Tool]:
    """Every registered tool by name, in registration order (the order ``tools/list`` shows)."""
    return dict(TOOLS)
