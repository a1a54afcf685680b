"""``perfop record`` (measure HEAD for the history) and ``perfop history W`` (series + shifts)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from perfop.cli.common import FORMAT_OPTION, OutputFormat, emit, emit_json, get_state


def register(app: typer.Typer) -> None:
    app.command(
        "record",
        help="Measure workloads at HEAD and store them with the commit's sha, time and branch "
        "(run on the main branch to build the history).",
    )(record)
    app.command(
        "history",
        help="A workload's series in commit order, its persistent shifts (change points) and a "
        "plot.",
    )(history)


def record(
    ctx: typer.Context,
    workloads: Annotated[
        list[str] | None,
        typer.Argument(help="Workload names (default: all configured).", show_default=False),
    ] = None,
    runs: Annotated[
        int | None, typer.Option("--runs", "-n", help="Measured runs per workload.")
    ] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.history.service import record as record_service
    from perfop.measure.service import run_document
    from perfop.render.run import run_table

    state = get_state(ctx)
    info, outcomes = record_service(state.store, state.loaded, workloads or (), runs=runs)
    if fmt is OutputFormat.json:
        doc = run_document(outcomes, None)
        doc["commit"] = vars(info)
        emit_json(doc)
    else:
        branch = f" on {info.branch}" if info.branch else ""
        typer.echo(f"recorded commit {info.sha[:12]}{branch} ({info.committed_at})")
        for outcome in outcomes:
            emit(state, run_table(outcome))
    if any(not o.samples for o in outcomes):
        raise typer.Exit(1)


def history(
    ctx: typer.Context,
    workload: Annotated[str, typer.Argument(help="Workload name.")],
    metric: Annotated[str, typer.Option("--metric", "-m", help="Metric to follow.")] = "wall_time",
    statistic: Annotated[
        str, typer.Option("--statistic", help="Statistic per commit (median, mean, p95, ...).")
    ] = "median",
    min_change: Annotated[
        float,
        typer.Option("--min-change", help="Smallest relative shift to report (0.02 = 2%)."),
    ] = 0.0,
    pvalue: Annotated[
        float,
        typer.Option("--pvalue", help="Significance a shift must reach (adjusted t-test)."),
    ] = 0.01,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Plot file (.png, .svg, .pdf); default .perfop/plots/history-W-M.png.",
            show_default=False,
        ),
    ] = None,
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not draw the plot.")] = False,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.errors import UsageError
    from perfop.history.service import format_history, load_history, write_plot

    if not 0 < pvalue < 1:
        raise UsageError(f"--pvalue {pvalue}: must be between 0 and 1")
    if min_change < 0:
        raise UsageError(f"--min-change {min_change}: must be >= 0")
    state = get_state(ctx)
    repo_root = state.loaded.repo_root
    result = load_history(
        state.store,
        workload,
        metric=metric,
        statistic=statistic,
        repo_root=repo_root,
        max_pvalue=pvalue,
        min_magnitude=min_change,
    )
    plot_path: Path | None = None
    if not no_plot:
        if plot is None:
            safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"history-{workload}-{metric}")
            plot = repo_root / ".perfop" / "plots" / f"{safe}.png"
        plot_path = write_plot(result, plot)
    if fmt is OutputFormat.json:
        doc = result.to_dict()
        doc["plot"] = str(plot_path) if plot_path else None
        emit_json(doc)
    else:
        sys.stdout.write(format_history(result))
        if plot_path is not None:
            typer.echo(f"plot: {plot_path}")
