"""``perfop data export|import``: history kept in a git branch of its own (``perfop-data``)."""

from __future__ import annotations

from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="History in a git branch (perfop-data): append-only files, merged without "
        "conflicts; written with git plumbing, never touching your branches or working tree.",
        no_args_is_help=True,
    )
    data_app.command("export", help="Add the store's recorded runs to the data branch.")(export)
    data_app.command("import", help="Read the data branch's runs into the store.")(import_)
    app.add_typer(data_app, name="data")


def export(
    ctx: typer.Context,
    branch: Annotated[
        str, typer.Option("--branch", help="The data branch (created if missing).")
    ] = "perfop-data",
) -> None:
    from perfop.ci.databranch import export_records

    state = get_state(ctx)
    result = export_records(state.store, state.loaded.repo_root, branch=branch)
    if result.commit is None:
        typer.echo(f"{result.branch}: nothing new")
    else:
        typer.echo(f"{result.branch}: added {result.added} runs ({result.commit[:12]})")


def import_(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Option("--ref", help="Branch or commit to read (e.g. origin/perfop-data).")
    ] = "perfop-data",
) -> None:
    from perfop.ci.databranch import import_records

    state = get_state(ctx)
    added = import_records(state.store, state.loaded.repo_root, ref=ref)
    typer.echo(f"imported {added} runs from {ref}")
