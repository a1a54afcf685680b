"""``perfop init-agent``: write the files that give a coding agent perfop's MCP tools."""

from __future__ import annotations

from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "init-agent",
        help="Write the files that give a coding agent perfop's MCP tools: Copilot "
        "(.github/agents, copilot-setup-steps.yml), Claude Code (.claude/agents, .mcp.json), "
        "VS Code (.vscode/mcp.json), Cursor (.cursor/mcp.json).",
    )(init_agent)


def init_agent(
    ctx: typer.Context,
    for_: Annotated[
        list[str] | None,
        typer.Option(
            "--for",
            help="copilot, claude, vscode, cursor or all (repeatable or comma-separated; "
            "default all).",
        ),
    ] = None,
    install: Annotated[
        str | None,
        typer.Option(
            "--install",
            help="How Copilot's setup steps install perfop: a git URL "
            "(git+https://HOST/OWNER/perfop@TAG), a path to a wheel or source tree, or "
            "'perfop==X.Y.Z' from your own index (required for copilot).",
            show_default=False,
        ),
    ] = None,
    setup: Annotated[
        str | None,
        typer.Option("--setup", help="Command that sets up the project in the setup steps."),
    ] = None,
    python: Annotated[str, typer.Option("--python", help="Python of the setup steps.")] = "3.11",
    force: Annotated[
        bool, typer.Option("--force", help="Replace files perfop wrote (never the user's).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the files instead of writing them.")
    ] = False,
) -> None:
    from perfop import init_agent as ia

    state = get_state(ctx)
    root = state.loaded.repo_root
    clients = ia.parse_clients(for_ or [])
    spec = None
    if install is not None:
        from perfop.ci.init_ci import install_requirement

        spec = install_requirement(install, root)
    files = ia.plan(root, clients, install=spec, python=python, setup=setup)
    if dry_run:
        for f in files:
            typer.echo(f"==> {f.path} ({f.client}: {f.what})")
            typer.echo(f.text, nl=not f.text.endswith("\n"))
        return
    todo = ia.check(root, files, force=force)
    ia.write(root, todo)
    for f in files:
        state_ = "wrote" if f in todo else "unchanged"
        typer.echo(f"{state_} {f.path} ({f.client}: {f.what})")
    typer.echo("commit them; the agent then starts perfop with: perfop mcp (see docs/agents.md)")
