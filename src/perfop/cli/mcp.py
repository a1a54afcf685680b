"""``perfop mcp``: serve perfop's tools to a coding agent over MCP (the Model Context Protocol)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "mcp",
        help="Serve the lifecycle tools to a coding agent over MCP (stdio): status, intake, run, "
        "profile, hypotheses, design, request_approval, compare, validate, report, verify ... "
        "See docs/agents.md for client configuration.",
    )(mcp)


def mcp(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="Repository to serve (default: the global --repo, or cwd)."),
    ] = None,
    call_limit: Annotated[
        float | None,
        typer.Option("--call-limit", help="Seconds after which any tool call is stopped.", min=1),
    ] = None,
) -> None:
    import importlib.util

    from perfop.errors import UsageError

    if importlib.util.find_spec("mcp") is None:
        raise UsageError("the MCP SDK is not installed; install it with: pip install 'perfop[mcp]'")
    _check_sdk_version()
    state = get_state(ctx)
    target = repo or state.repo
    if target is not None and not target.is_dir():
        raise UsageError(f"--repo {target}: not a directory; give the repository's path")
    from perfop.mcp import serve

    serve(
        target,
        store_url=state.store_override,
        config=state.config_path,
        call_limit=call_limit,
    )


MIN_SDK = (2, 0)  # the low-level server API perfop uses (on_* handlers, server/discover)


def _check_sdk_version() -> None:
    """An MCP SDK older than 2.0 has another server API: a one-line error instead of a crash."""
    import importlib.metadata
    import re

    from perfop.errors import UsageError

    try:
        version = importlib.metadata.version("mcp")
    except importlib.metadata.PackageNotFoundError:
        return  # a source checkout on the path: nothing to compare
    match = re.match(r"(\d+)\.(\d+)", version)
    if match and (int(match[1]), int(match[2])) < MIN_SDK:
        raise UsageError(
            f"the installed MCP SDK is mcp {version}; perfop needs mcp >= 2.0: "
            "pip install -U 'perfop[mcp]'"
        )
