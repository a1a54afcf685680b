"""Shared plumbing of the CLI: global options, lazy config/store, output, error mapping.

Commands stay thin: parse, call a service, render. This module is the only place that turns a
``PerfopError`` into ``perfop: error: ...`` and an exit code.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import json
import os
import re
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from perfop.errors import PerfopError, UsageError

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from perfop.app import AppContext
    from perfop.config import LoadedConfig
    from perfop.store import Store


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


# The raw argument list, so a verb can tell ``perfop run W`` from ``perfop run -- CMD``: Click
# hands both over as plain positional arguments. Set by ``perfop.cli.main``.
RAW_ARGS: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "perfop_raw_args", default=()
)


def split_command(args: list[str]) -> tuple[list[str], list[str]]:
    """Split positional ``args`` into (names before '--', the command after '--')."""
    raw = RAW_ARGS.get()
    if "--" in raw:
        n = len(raw) - raw.index("--") - 1
        if n:
            return args[: len(args) - n], args[len(args) - n :]
    return args, []


def after_double_dash() -> bool:
    """Whether the command line had a '--' (possibly with nothing after it)."""
    return "--" in RAW_ARGS.get()


def seed_callback(value: int | None) -> int | None:
    from perfop.config import check_seed

    return None if value is None else check_seed(value)


def seconds_callback(flag: str) -> Any:
    def check(value: float | None) -> float | None:
        from perfop.config import check_seconds

        return None if value is None else check_seconds(value, flag)

    return check


# Options shared by the verbs that run an A/B comparison (compare, calibrate, gate, validate).
SeedOption = Annotated[
    int | None,
    typer.Option("--seed", callback=seed_callback, help="Seed of the pair order (recorded)."),
]
MaxTimeOption = Annotated[
    float | None,
    typer.Option(
        "--max-time",
        callback=seconds_callback("--max-time"),
        help="Seconds per workload, counted from the command's start (set-up and clean-up "
        "included); set explicitly, it is never extended. Default: the workload's max_time, "
        "extended when a verdict needs more (up to max_time_ceiling).",
    ),
]
MaxPairsOption = Annotated[
    int | None,
    typer.Option("--max-pairs", help="Most pairs per workload (default: max_time alone)."),
]
MaxRunsOption = Annotated[
    int | None, typer.Option("--max-runs", help="Deprecated alias of --max-pairs.")
]
FailOnInconclusiveOption = Annotated[
    bool,
    typer.Option("--fail-on-inconclusive", help="Exit 3 when a gated workload is inconclusive."),
]


def pair_cap(state: State, max_pairs: int | None, max_runs: int | None) -> int | None:
    """``--max-pairs``, or the deprecated ``--max-runs`` (with a note on stderr)."""
    if max_runs is None:
        return max_pairs
    if max_pairs is not None and max_pairs != max_runs:
        raise UsageError(
            f"--max-pairs {max_pairs} and --max-runs {max_runs} disagree; pass only --max-pairs"
        )
    state.err_console.print(
        "perfop: note: --max-runs is deprecated for comparisons; use --max-pairs "
        "(max_runs sizes a plain 'perfop run')",
        markup=False,
        soft_wrap=True,
    )
    return max_runs


FORMAT_OPTION = typer.Option(
    OutputFormat.text, "--format", help="Output format.", case_sensitive=False
)


@dataclass
class State:
    """Per-invocation state built from the global options; config and store open lazily (one
    ``perfop.app.AppContext``)."""

    repo: Path | None = None
    config_path: Path | None = None
    store_override: str | None = None
    _app: AppContext | None = field(default=None, repr=False)
    _console: Console | None = field(default=None, repr=False)

    @property
    def app(self) -> AppContext:
        if self._app is None:
            from perfop.app import AppContext

            start = self.repo
            if start is not None and not start.is_dir():
                raise UsageError(f"--repo {start}: not a directory; give the repository's path")
            # The store is lazy: one that does not exist yet is created by the first write, so
            # a command rejected before it records anything leaves no file behind.
            self._app = AppContext(
                start,
                config_path=self.config_path,
                store_override=self.store_override,
                on_config=lambda loaded: _cleanup_stale_worktrees(loaded.repo_root),
                on_store=_print_store_notes,
            )
        return self._app

    @property
    def loaded(self) -> LoadedConfig:
        return self.app.loaded

    @property
    def store(self) -> Store:
        return self.app.store

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            probe = Console()
            # Piped output keeps full tables instead of Rich's 80-column default; COLUMNS, when
            # set, is the width everywhere (Rich reads it when width is None).
            columns = os.environ.get("COLUMNS", "")
            width = None if probe.is_terminal or columns.isdigit() else 120
            self._console = Console(highlight=False, width=width)
        return self._console

    @property
    def err_console(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False)

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def _print_store_notes(store: Store) -> None:
    for note in store.notes:
        print(f"perfop: note: {note}", file=sys.stderr)


def _cleanup_stale_worktrees(repo: Path) -> None:
    """Remove worktree sessions a killed perfop left (cheap: one stat when there are none)."""
    if not (repo / ".perfop" / "worktrees").is_dir():
        return
    from perfop.measure.worktrees import cleanup_stale

    with contextlib.suppress(OSError, PerfopError):  # a read-only tree: leave them be
        cleanup_stale(repo)


def get_state(ctx: typer.Context) -> State:
    root = ctx.find_root()
    if not isinstance(root.obj, State):
        root.obj = State()
    return root.obj


def emit_json(doc: Any) -> None:
    """Write a JSON document to stdout (the one format machines read)."""
    sys.stdout.write(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def emit(state: State, renderable: RenderableType) -> None:
    state.console.print(renderable)


def _rich_is_special() -> bool:
    """IDLE or a Jupyter kernel, where Rich's consoles decide more than the stream does."""
    idle = hasattr(sys.stdin, "__module__") and sys.stdin.__module__.startswith("idlelib")
    return idle or hasattr(builtins, "get_ipython")


def is_terminal(stream: Any) -> bool:
    """What a Rich console writing to ``stream`` takes for a terminal (``Console.is_terminal``:
    ``TTY_COMPATIBLE``, then ``FORCE_COLOR``, then ``isatty``), without importing Rich."""
    if _rich_is_special():
        from rich.console import Console

        return Console(file=stream).is_terminal
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # a closed stream
        return False


# What Rich's console would not print as it stands, in a line printed without markup and
# without wrapping: a control character (dropped or expanded) or an emoji code (replaced).
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f]|:\S*?:")


def print_err_line(state: State, line: str) -> None:
    """``line`` on stderr as ``err_console.print(line, markup=False, soft_wrap=True)`` prints
    it: written directly where that is the line itself (no Rich import, ~40 ms of a start)."""
    if _NOT_PLAIN.search(line) or _rich_is_special():
        state.err_console.print(line, markup=False, soft_wrap=True)
        return
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def warn_contention(state: State, summary: Any, *, what: str) -> None:
    """``perfop: warning: high machine contention ...`` on stderr when ``summary`` is high."""
    from perfop.measure.contention import warning

    text = warning(summary, what=what)
    if text:
        print_err_line(state, f"perfop: warning: {text}")


def error_line(message: str) -> str:
    return f"perfop: error: {message}"
