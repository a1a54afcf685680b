"""``perfop import FILE...`` (pytest-benchmark, pyperf, hyperfine and asv results into the store)
and ``perfop export RUN|COMPARISON`` (stored evidence in formats other tools read)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import FORMAT_OPTION, OutputFormat, emit_json, get_state


def register(app: typer.Typer) -> None:
    app.command(
        "import",
        help="Import benchmark results (pytest-benchmark JSON, pyperf JSON or .json.gz, "
        "hyperfine --export-json, asv result files) as runs, with their recorded environment.",
    )(import_results)
    app.command(
        "export",
        help="Export a stored run (ID or run:ID) or comparison (comparison:ID or cID) as "
        "csv, json, hyperfine or pyperf JSON, Bencher Metric Format (bmf), "
        "github-action-benchmark customSmallerIsBetter (gab) or OpenMetrics text.",
    )(export_results)


def import_results(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Result files.", show_default=False)],
    prefix: Annotated[
        str, typer.Option("--prefix", help="Prefix for the workload names of imported runs.")
    ] = "",
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.history.importers import format_import, import_document, import_files

    state = get_state(ctx)
    outcomes = import_files(state.store, files, prefix=prefix)
    if fmt is OutputFormat.json:
        emit_json(import_document(outcomes))
    else:
        sys.stdout.write(format_import(outcomes))


def export_results(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="A run id (12, run:12) or comparison id (comparison:3, c3).")
    ],
    fmt: Annotated[
        str,
        typer.Option("--format", help="csv, json, hyperfine, pyperf, bmf, gab or openmetrics."),
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing --output file.")
    ] = False,
) -> None:
    from perfop.errors import UsageError
    from perfop.history.exports import (
        FORMATS,
        collect_comparison,
        collect_run,
        parse_target,
        render,
    )

    if fmt not in FORMATS:
        raise UsageError(f"--format: {fmt!r} is not an export format; one of: {', '.join(FORMATS)}")
    kind, ident = parse_target(target)
    if output is not None and output.exists() and not force:
        raise UsageError(f"--output: {output} already exists; pass --force to replace it")
    state = get_state(ctx)
    ex = (
        collect_run(state.store, ident) if kind == "run" else collect_comparison(state.store, ident)
    )
    text = render(ex, fmt)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
