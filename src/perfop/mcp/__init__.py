"""perfop's MCP server: the operator's lifecycle tools for any coding agent, over stdio.

The tools themselves (one per lifecycle verb, each calling the CLI's service) and their guards are
``perfop.services``'; this package adapts them: ``tools.App`` (which agent acts), ``guards``
(worker threads a cancellation stops), ``resources`` and ``server`` (the SDK wiring). Importing
this package does not import the MCP SDK; ``serve`` does.
"""

from __future__ import annotations

from pathlib import Path


def serve(
    repo: Path | None,
    *,
    store_url: str | None = None,
    config: Path | None = None,
    call_limit: float | None = None,
) -> None:
    """Run the server on stdin/stdout until the client disconnects."""
    from perfop.mcp.server import serve as _serve

    _serve(repo, store_url=store_url, config=config, call_limit=call_limit)
