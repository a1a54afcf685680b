"""``perfop init-ci`` (write the GitHub Actions workflow) and ``perfop gate`` (pull requests)."""

from __future__ import annotations

from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "init-ci",
        help="Write .github/workflows/perfop.yml: gate pull requests, record pushes to the "
        "default branch (pinned actions, fetch-depth 0, store cached or from a secret).",
    )(init_ci)


def init_ci(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    store: Annotated[
        str,
        typer.Option(
            "--store-kind",
            help="sqlite: a store file kept in the Actions cache; postgres: a URL from the "
            "secret PERFOP_STORE_URL.",
        ),
    ] = "sqlite",
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Default branch to record (default: from git)."),
    ] = None,
    python: Annotated[str, typer.Option("--python", help="Python version to set up.")] = "3.11",
    install: Annotated[
        str | None,
        typer.Option("--install", help="Install command (default: the project and perfop)."),
    ] = None,
) -> None:
    from perfop.ci.init_ci import (
        WorkflowOptions,
        default_branch,
        render_workflow,
        write_workflow,
    )
    from perfop.errors import UsageError

    if store not in ("sqlite", "postgres"):
        raise UsageError(f"--store-kind {store!r}: expected sqlite or postgres")
    state = get_state(ctx)
    root = state.loaded.repo_root
    opts = WorkflowOptions(
        default_branch=branch or default_branch(root),
        python=python,
        store="postgres" if store == "postgres" else "sqlite",
        **({"install": install} if install else {}),
    )
    path = write_workflow(root, render_workflow(opts), force=force)
    typer.echo(
        f"wrote {path.relative_to(root)} (gate on pull requests, record on "
        f"{opts.default_branch}); commit it to enable"
    )
