"""``perfop profile [WORKLOAD | -- CMD ARGS]`` and ``perfop profile diff BASE CANDIDATE -w W``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    OutputFormat,
    emit,
    emit_json,
    get_state,
    seconds_callback,
    split_command,
)

if TYPE_CHECKING:
    from perfop.cli.common import State
    from perfop.profiling.model import ProfileReport
    from perfop.profiling.service import ProfileOptions


def register(app: typer.Typer) -> None:
    app.command(
        "profile",
        help="Profile a workload (or '-- CMD ARGS') and rank its hot spots in the repository's "
        "own code; 'perfop profile diff BASE CANDIDATE -w W' profiles two refs and shows where "
        "time moved. Artifacts (speedscope, flame graph, raw) go to .perfop/profiles/<id>/.",
    )(profile)


def profile(
    ctx: typer.Context,
    args: Annotated[
        list[str] | None,
        typer.Argument(
            help="WORKLOAD, or 'diff BASE CANDIDATE', or after '--' a command.",
            show_default=False,
        ),
    ] = None,
    workload: Annotated[
        str | None, typer.Option("--workload", "-w", help="Workload to profile.")
    ] = None,
    ref: Annotated[
        str | None, typer.Option("--ref", help="Profile this ref in an isolated worktree.")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="cpu, memory or both.")] = "cpu",
    top: Annotated[int, typer.Option("--top", help="Hot spots (or diff rows) to show.")] = 15,
    backend: Annotated[
        str, typer.Option("--backend", help="CPU profiler: py-spy or pyinstrument.")
    ] = "py-spy",
    include_all: Annotated[
        bool,
        typer.Option("--all", help="Show stdlib and third-party frames instead of folding them."),
    ] = False,
    native: Annotated[
        bool, typer.Option("--native", help="Include native frames (py-spy, memray).")
    ] = False,
    rate: Annotated[int, typer.Option("--rate", help="py-spy samples per second.")] = 250,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            callback=seconds_callback("--timeout"),
            help="Seconds before the profiled run is killed.",
        ),
    ] = None,
    repeat: Annotated[
        int | None,
        typer.Option(
            "--repeat",
            help="Profile N times (per side for 'diff', interleaved) and merge; the diff compares "
            "per-function medians. Default 1, and 3 for 'diff'.",
            show_default=False,
        ),
    ] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.errors import UsageError
    from perfop.profiling.service import ProfileOptions

    state = get_state(ctx)
    names, command = split_command(list(args or []))
    options = ProfileOptions(
        mode=mode,  # type: ignore[arg-type]  # checked by ProfileOptions.check
        backend=backend,
        include_all=include_all,
        native=native,
        rate=rate,
        timeout=timeout,
        repeat=repeat,
    )
    options.check()
    if top < 1:
        raise UsageError(f"--top {top}: must be at least 1")
    if names[:1] == ["diff"]:
        if len(names) != 3:
            raise UsageError("usage: perfop profile diff BASE CANDIDATE -w WORKLOAD (or -- CMD)")
        if ref:
            raise UsageError("--ref does not apply to 'profile diff'; give BASE and CANDIDATE")
        _diff(state, names[1], names[2], workload, command, options, top, fmt)
        return
    if len(names) > 1 or (names and workload) or (command and (names or workload)):
        raise UsageError("give one workload (or -w W) or '-- CMD ARGS', not several")
    _profile(state, workload or (names[0] if names else None), command, ref, options, top, fmt)


def _profile(
    state: State,
    workload: str | None,
    command: Sequence[str],
    ref: str | None,
    options: ProfileOptions,
    top: int,
    fmt: OutputFormat,
) -> None:
    from perfop.profiling.document import profile_document
    from perfop.profiling.service import profile, record_profile

    report = profile(state.loaded, workload=workload, command=command, ref=ref, options=options)
    record_profile(state.store, report)
    if fmt is OutputFormat.json:
        emit_json(profile_document(report))
        return
    _print_report(state, report, top)


def _print_report(state: State, report: ProfileReport, top: int) -> None:
    from perfop.profiling.attribution import rank_causes
    from perfop.profiling.render import causes_table, hotspot_table

    where = f" at {report.ref} ({(report.sha or '')[:10]})" if report.ref else ""
    emit(state, f"profile {report.id}{where}: {' '.join(report.argv)}")
    for part in report.parts:
        emit(state, hotspot_table(part, top=top))
        if rank_causes(part.hotspots):
            emit(state, causes_table(part, top=top))
        for note in part.notes:
            emit(state, f"note: {note}")
        for name, path in part.artifacts.items():
            emit(state, f"  {name}: {path}")


def _diff(
    state: State,
    base: str,
    candidate: str,
    workload: str | None,
    command: Sequence[str],
    options: ProfileOptions,
    top: int,
    fmt: OutputFormat,
) -> None:
    from perfop.errors import UsageError
    from perfop.profiling.render import diff_table
    from perfop.profiling.service import profile_diff, record_profile
    from perfop.services.envelope import profile_diff_document

    if not workload and not command:
        raise UsageError("profile diff needs -w WORKLOAD or '-- CMD ARGS'")
    result = profile_diff(
        state.loaded, base, candidate, workload=workload, command=command, options=options
    )
    for report in (result.base, result.candidate):
        record_profile(state.store, report)
    if fmt is OutputFormat.json:
        emit_json(profile_diff_document(result))
        return
    for diff in result.diffs:
        emit(state, diff_table(diff, top=top))
    emit(state, f"profiles: {result.base.artifact_dir}, {result.candidate.artifact_dir}")
