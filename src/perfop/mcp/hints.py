"""CLI hints as tool calls: ``perfop.services.hints`` (the agent runner's answers use it too)."""

from __future__ import annotations

from perfop.services.hints import VERBS as VERBS
from perfop.services.hints import to_mcp as to_mcp
