"""``perfop report``: the engagement's hand-off report as Markdown, self-contained HTML or JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "report",
        help="Write the engagement's report: Markdown (PR description, GitHub step summary), "
        "self-contained HTML with plots, or JSON; format from --format or the -o extension.",
    )(report)


def report(
    ctx: typer.Context,
    engagement: Annotated[
        int | None,
        typer.Option("--engagement", help="Engagement id (default: the current one)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format", help="md, html or json (default: from the -o extension, else md)."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "-o", "--output", help="File to write (Markdown also writes PNG plots beside it)."
        ),
    ] = None,
) -> None:
    from perfop.report.service import generate_report

    state = get_state(ctx)
    result = generate_report(
        state.store, state.loaded, engagement_id=engagement, fmt=fmt, output=output
    )
    if output is None:
        sys.stdout.write(result.text)
        sys.stdout.flush()
        return
    typer.echo(f"report: {result.files[0]} ({result.fmt}, recorded as report {result.record.id})")
    for extra in result.files[1:]:
        typer.echo(f"plot: {extra}")
