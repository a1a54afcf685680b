"""Next-step hints that name the right thing for each front end.

A ``NextStep`` says what to do and how: the CLI command a person types and the MCP tool (with its
arguments) an agent calls. Services return steps; front ends render them with ``hint(front)``, so a
CLI user reads ``perfop validate H1`` and an agent reads ``call validate {"label": "H1"}``. A step
only a human can take (approve, accept) has ``human`` set; the agent is told who must act.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Front = Literal["cli", "mcp"]


@dataclass(frozen=True)
class NextStep:
    """One recommended action. ``tool`` None: no tool does it (a human acts, or nothing is left).

    ``arguments`` values written as ``<...>`` are placeholders the caller fills in."""

    what: str
    command: str = ""
    tool: str | None = None
    arguments: Mapping[str, Any] = field(default_factory=dict)
    human: str | None = None  # the command only a human may run (perfop approve/accept ...)
    cli_what: str | None = None  # ``what`` for the CLI when it differs (names CLI verbs)

    def call(self) -> str:
        """``validate {"label": "H1"}``: the tool call an agent makes."""
        assert self.tool is not None
        return f"{self.tool} {json.dumps(dict(self.arguments), sort_keys=False)}"

    def hint(self, front: Front) -> str:
        if front == "cli":
            how = self.command or self.human or ""
        elif self.tool is not None:
            how = "call " + self.call()
            if self.human:
                how += f"; then a human runs: {self.human}"
        elif self.human:
            how = f"a human runs: {self.human}"
        else:
            how = ""
        what = (self.cli_what or self.what) if front == "cli" else self.what
        return f"{what}: {how}" if how and what else (how or what)

    def to_dict(self, front: Front) -> dict[str, Any]:
        return {
            "text": self.hint(front),
            "tool": self.tool,
            "arguments": dict(self.arguments),
            "command": self.command or self.human or None,
            "human": self.human,
        }


def with_hint(reason: str, step: NextStep | None, front: Front) -> str:
    """``reason; run: perfop X`` (CLI) or ``reason; call X {...}`` (MCP)."""
    if step is None:
        return reason
    if front == "cli":
        how = step.command or step.human or ""
        return f"{reason}; run: {how}" if how else reason
    return f"{reason}; {step.hint('mcp')}"
