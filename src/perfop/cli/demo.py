"""``perfop demo``: perfop's whole lifecycle on its bundled example project, printed as it goes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import get_state


def register(app: typer.Typer) -> None:
    app.command(
        "demo",
        help="Run the whole lifecycle (intake, inventory, baseline, profile, hypothesis, design, "
        "candidate, validate, report, verify) on the bundled example in a fresh git repository; "
        "prints where the Markdown and HTML reports are.",
    )(demo)


def demo(
    ctx: typer.Context,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to work (new or empty; default: a temp directory)."),
    ] = None,
    keep: Annotated[
        bool,
        typer.Option("--keep", help="Keep the example repository and its store for exploring."),
    ] = False,
) -> None:
    from perfop.demo import STAGES, run_demo

    state = get_state(ctx)
    started = time.monotonic()
    last = [""]

    def on_stage(stage: str, message: str) -> None:
        if stage != last[0]:
            n = STAGES.index(stage) + 1 if stage in STAGES else 0
            typer.echo(f"[{n:2d}/{len(STAGES)}] {stage}")
            last[0] = stage
        typer.echo(f"        {message}")

    result = run_demo(directory, keep=keep, store_override=state.store_override, on_stage=on_stage)
    typer.echo("")
    typer.echo(
        f"done in {time.monotonic() - started:.0f} s: {result.hypothesis} {result.status}, "
        f"top_words {result.verdict}, tests {'passed' if result.tests_passed else 'FAILED'}"
    )
    failed = [name for name, ok, _ in result.verify if not ok]
    if failed:
        typer.echo(
            "verify: left for a human: "
            + ", ".join(failed)
            + (
                f" (e.g. cd {result.repo} && perfop accept --by NAME)"
                if result.kept
                else " (run with --keep to continue in the repository)"
            )
        )
    if result.kept:
        typer.echo(f"repository: {result.repo} (store {result.store_url})")
    typer.echo(f"report (Markdown): {result.markdown}")
    typer.echo(f"report (HTML):     {result.html}")
