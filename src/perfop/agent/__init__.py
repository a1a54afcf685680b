"""``perfop agent``: the operator as an autonomous agent with any LLM endpoint.

- ``providers``: OpenAI-compatible Chat Completions and Anthropic Messages over httpx.
- ``sandbox``: the git worktree on branch ``perfop/<engagement>`` and the deny-listed tools.
- ``tools``: perfop's service tools (``perfop.services``, the table the MCP server serves) plus
  the sandbox tools, selected per stage.
- ``loop``: the lifecycle-driven runner with approvals, budgets and the final summary.
- ``summary``: the approval-ready summary at the end of every run.
- ``transcript``: every message and tool call, redacted, in the store.
"""

from __future__ import annotations
