"""``perfop run`` (measure workloads) and ``perfop runs list|show`` (stored runs)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    after_double_dash,
    emit,
    emit_json,
    get_state,
    is_terminal,
    split_command,
    warn_contention,
)
from perfop.cli.progress import TaskBar

if TYPE_CHECKING:
    from perfop.measure.service import WorkloadRun
    from perfop.model import ProcessResult


class _RunBar(TaskBar):
    """``perfop run``'s progress (a ``RunProgress``) on a ``TaskBar``."""

    def workload_started(self, name: str, total: int) -> None:
        self.add(name, total)

    def sample_done(self, name: str, index: int, result: ProcessResult) -> None:
        if not self.enabled:
            return  # no bar (piped, --format json): nothing to format per sample
        last = f"{result.wall_time * 1e3:.1f} ms" if result.ok else result.describe_failure()
        self.update(name, advance=1, last=last)

    def workload_finished(self, name: str) -> None:
        self.settle(name)


def register(app: typer.Typer) -> None:
    app.command(
        "run",
        help="Measure workloads: N fresh processes each, stored with the environment. "
        "'perfop run' measures every configured workload; 'perfop run -- CMD ARGS' an ad hoc "
        "command.",
    )(run)
    runs_app = typer.Typer(help="List and show stored runs.", no_args_is_help=True)
    runs_app.command("list", help="List stored runs, newest first.")(runs_list)
    runs_app.command("show", help="Show one stored run with its samples.")(runs_show)
    app.add_typer(runs_app, name="runs")


def run(
    ctx: typer.Context,
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="Workload names (default: all), or after '--' a command to measure.",
            show_default=False,
        ),
    ] = None,
    runs: Annotated[
        int | None, typer.Option("--runs", "-n", help="Measured runs per workload.")
    ] = None,
    warmup: Annotated[int | None, typer.Option("--warmup", help="Discarded warm-up runs.")] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Seconds before a run is killed and counted as failed."),
    ] = None,
    list_only: Annotated[
        bool,
        typer.Option(
            "--list", help="List the benchmarks of suite workloads (nothing is measured)."
        ),
    ] = False,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.errors import UsageError

    state = get_state(ctx)
    names, command = split_command(list(args or []))
    if command and names:
        raise UsageError("give workload names or '-- CMD', not both")
    if list_only:
        _list_suites(state, names, fmt)
        return
    if command:
        _start_spawner()
    show_bar = fmt is OutputFormat.text and is_terminal(sys.stderr)
    with _RunBar(show_bar, show_last=True) as bar:
        outcomes = _measure(
            state, names, command, runs=runs, warmup=warmup, timeout=timeout, progress=bar
        )
    _show_runs(state, outcomes, fmt)
    for outcome in outcomes:
        warn_contention(
            state, outcome.contention, what=f"run {outcome.run_id} ({outcome.workload})"
        )
    if any(not o.samples or o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


def _start_spawner() -> None:
    """Start perfop's spawner (``perfop.measure.launch``) before the store and the config are
    imported: its interpreter starts on another CPU meanwhile instead of before the first
    sample (~10-20 ms of a ``perfop run -- CMD``). The first sample finds it running."""
    from perfop.measure.launch import spawner

    spawner()


def _measure(
    state: Any,
    names: list[str],
    command: list[str],
    *,
    runs: int | None,
    warmup: int | None,
    timeout: float | None,
    progress: _RunBar,
) -> list[WorkloadRun]:
    """The ad hoc command after ``--``, or the named (default: all) configured workloads."""
    from perfop.measure.service import run_adhoc, run_workloads

    if command or (after_double_dash() and not names):
        repo = state.loaded.repo_root
        return [
            run_adhoc(
                state.store,
                repo,
                command,
                runs=runs,
                warmup=warmup,
                timeout=timeout,
                progress=progress,
            )
        ]
    return run_workloads(
        state.store,
        state.loaded,
        names,
        runs=runs,
        warmup=warmup,
        timeout=timeout,
        progress=progress,
    )


def _show_runs(state: Any, outcomes: list[WorkloadRun], fmt: OutputFormat) -> None:
    from perfop.measure.contention import format_line
    from perfop.measure.service import environment_of, run_document

    if fmt is OutputFormat.json:
        emit_json(run_document(outcomes, environment_of(outcomes, state.loaded.repo_root)))
        return
    width = _plain_width()
    for outcome in outcomes:
        lines = _plain_run(outcome, width) if width is not None else None
        if lines is not None:  # what the console would print, without importing Rich
            sys.stdout.write(lines)
            sys.stdout.flush()  # as the console does: before a warning on stderr
            continue
        from rich.text import Text

        from perfop.render.run import run_table

        emit(state, run_table(outcome))
        if outcome.contention is not None:
            # One line whatever the width, like compare's summary lines.
            line = Text(f"  {format_line(outcome.contention, paired=False)}")
            state.console.print(line, soft_wrap=True)


def _plain_run(outcome: WorkloadRun, width: int) -> str | None:
    """``_show_runs``' text for one run as the console prints it, or None (then Rich prints)."""
    from perfop.measure.contention import format_line
    from perfop.render.run import plain_line, plain_run_table

    table = plain_run_table(outcome, width=width)
    if table is None:
        return None
    if outcome.contention is None:
        return table + "\n"
    line = plain_line(f"  {format_line(outcome.contention, paired=False)}")
    return None if line is None else f"{table}\n{line}\n"


def _list_suites(state: Any, names: list[str], fmt: OutputFormat) -> None:
    from rich.text import Text

    from perfop.measure.service import list_suites

    listings = list_suites(state.loaded, names)
    if fmt is OutputFormat.json:
        from perfop.services.envelope import SUITES_SCHEMA, envelope

        emit_json(envelope(SUITES_SCHEMA, suites=[x.to_dict() for x in listings]))
        return
    if not listings:
        state.console.print('no suite workloads configured (kind = "pytest-benchmark" or "asv")')
    for x in listings:
        state.console.print(Text(f"{x.workload} ({x.kind}): {len(x.benchmarks)} benchmarks"))
        for b in x.benchmarks:
            state.console.print(Text(f"  {b}"), soft_wrap=True)


def runs_list(
    ctx: typer.Context,
    workload: Annotated[
        str | None, typer.Option("--workload", "-w", help="Only this workload.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many runs.")] = 50,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.render.run import plain_runs, runs_table

    state = get_state(ctx)
    records = state.store.list_runs(workload=workload, limit=limit)
    if fmt is OutputFormat.json:
        from perfop.services.envelope import runs_document

        emit_json(runs_document(records))
        return
    width = _pipe_width()
    text = None if width is None else plain_runs(records, width=width)
    if text is None:
        emit(state, runs_table(records))
    else:  # what the console would print, without importing Rich (~40 ms of a start)
        sys.stdout.write(text + "\n")


def _plain_width() -> int | None:
    """``_pipe_width``, where the console would also draw Rich's box characters as they are
    (an encoding that is not UTF-8 gets ASCII boxes)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower()
    return _pipe_width() if encoding.startswith("utf") else None


def _pipe_width() -> int | None:
    """The width ``State.console`` prints at when stdout is not a terminal (COLUMNS, else 120);
    None on a terminal, real or forced (Rich measures that one itself)."""
    if sys.stdout.isatty() or os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE"):
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() else 120


def runs_show(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="Run id (see 'perfop runs list').")],
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.measure.service import RunSettings, WorkloadRun
    from perfop.model import BUILTIN_METRICS, MetricSpec, RunStatus
    from perfop.render.run import run_table

    state = get_state(ctx)
    record = state.store.get_run(run_id)
    if fmt is OutputFormat.json:
        doc = record.summary_document()
        doc["samples"] = [{"index": s.index, "metrics": s.metrics} for s in record.samples]
        doc["failures"] = [vars(f) for f in record.failures]
        doc["environment"] = (
            state.store.get_environment(record.environment_id) if record.environment_id else None
        )
        from perfop.services.envelope import RUNS_SCHEMA, envelope

        emit_json(envelope(RUNS_SCHEMA, runs=[doc]))
        return
    specs = dict(record.metric_specs) or {
        n: MetricSpec(n, u, b) for n, (u, b) in BUILTIN_METRICS.items()
    }
    s = record.settings
    view = WorkloadRun(
        run_id=record.id,
        workload=record.workload,
        argv=record.argv,
        cwd=record.cwd or "",
        settings=RunSettings(
            runs=s.get("runs", 0),
            warmup=s.get("warmup", 0),
            timeout=s.get("timeout", 0.0),
            max_time=s.get("max_time", 0.0),
            min_runs=s.get("min_runs", 0),
        ),
        status=RunStatus(record.status),
        samples=record.samples,
        failures=record.failures,
        metric_specs=specs,
    )
    typer.echo(f"command: {' '.join(record.argv)}")
    typer.echo(f"ref: {record.ref or '-'} {record.sha or ''}{' (dirty)' if record.dirty else ''}")
    emit(state, run_table(view))
    if record.contention is not None:
        from perfop.measure.contention import format_line

        typer.echo(f"  {format_line(record.contention, paired=record.kind != 'run')}")
