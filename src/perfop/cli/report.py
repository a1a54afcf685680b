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
            "-o",
            "--output",
            help="File to write (Markdown also writes PNG plots beside it); an existing file "
            "is replaced only if perfop wrote it.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace an -o file (and plots) perfop did not write."),
    ] = False,
) -> None:
    from perfop.report.files import Target
    from perfop.report.service import generate_report

    state = get_state(ctx)
    target = None
    if output is not None:
        target = Target.cli(output, force=force, create_within=state.loaded.repo_root)
    result = generate_report(
        state.store, state.loaded, engagement_id=engagement, fmt=fmt, output=target
    )
    if output is None:
        sys.stdout.write(result.text)
        sys.stdout.flush()
        return
    recorded = f"recorded as report {result.record.id}" if result.record else "not recorded"
    typer.echo(f"report: {result.files[0]} ({result.fmt}, {recorded})")
    for extra in result.files[1:]:
        typer.echo(f"plot: {extra}")
