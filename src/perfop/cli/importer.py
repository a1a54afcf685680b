"""``perfop import FILE...``: pytest-benchmark, pyperf, hyperfine and asv results into the store."""

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


def import_results(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Result files.", show_default=False)],
    prefix: Annotated[
        str, typer.Option("--prefix", help="Prefix for the workload names of imported runs.")
    ] = "",
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.importers import format_import, import_document, import_files

    state = get_state(ctx)
    outcomes = import_files(state.store, files, prefix=prefix)
    if fmt is OutputFormat.json:
        emit_json(import_document(outcomes))
    else:
        sys.stdout.write(format_import(outcomes))
