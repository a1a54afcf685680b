"""perfop's command line: one Typer app; each verb group registers itself from its own module,
imported when one of its verbs runs (perfop.cli.lazy).

``main`` is the console-script entry point. It is the only place that exits: it maps
``PerfopError`` to one line on stderr and its exit code (2 for usage and config), Click's usage
errors to one line and 2, and an interruption to 130.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from perfop import __version__, interrupts
from perfop.cli.common import State, error_line
from perfop.cli.lazy import lazy_group
from perfop.cli.verbs import VERBS
from perfop.errors import PerfopError
from perfop.registry import Registry

# Modules under perfop.cli whose ``register(app)`` defines verbs, in lifecycle order (the order of
# --help): try it, engage, measure, compare, report, CI, agents. Each is imported only when one
# of its verbs runs (perfop.cli.lazy); perfop.cli.verbs lists which verbs each registers.
COMMAND_MODULES: Registry[Callable[[typer.Typer], None]] = Registry(
    "CLI verbs",
    {
        "demo": "perfop.cli.demo:register",
        "engagement": "perfop.cli.engagement:register",
        "run": "perfop.cli.run:register",
        "profile": "perfop.cli.profile:register",
        "compare": "perfop.cli.compare:register",
        "report": "perfop.cli.report:register",
        "gate": "perfop.cli.gate:register",
        "history": "perfop.cli.history:register",
        "publish": "perfop.cli.publish:register",
        "data": "perfop.cli.data:register",
        "importer": "perfop.cli.importer:register",
        "ci": "perfop.cli.ci:register",
        "mcp": "perfop.cli.mcp:register",
        "init_agent": "perfop.cli.init_agent:register",
        "agent": "perfop.cli.agent:register",
    },
)

app = typer.Typer(
    name="perfop",
    help="Performance Optimization Operator: baseline, profile, hypothesise, A/B validate and "
    "report performance work on a Python repository, with evidence at every step.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    cls=lazy_group(VERBS, COMMAND_MODULES, rich_markup_mode=None, pretty_exceptions_short=True),
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"perfop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    repo: Annotated[
        Path | None,
        typer.Option(
            "--repo",
            help="Repository to work on (default: the one containing the current directory).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="PERFOP_CONFIG",
            help="Config file (default: PERFOP_CONFIG, else perfop.toml or [tool.perfop] in "
            "pyproject.toml).",
            show_envvar=False,
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store URL (SQLAlchemy); default from PERFOP_STORE or the config.",
            show_default=False,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    ctx.obj = State(repo=repo, config_path=config, store_override=store)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return (via sys.exit in the console script) the exit code."""
    from perfop.cli.common import RAW_ARGS

    argv = list(sys.argv[1:] if argv is None else argv)
    RAW_ARGS.set(tuple(argv))
    try:
        # SIGTERM ends perfop like Ctrl-C does, so the same clean-up (interrupted runs) applies;
        # a second one during that clean-up does not cut it short (perfop.interrupts).
        with interrupts.stopping():
            result = app(args=argv, prog_name="perfop", standalone_mode=False)
    except typer.TyperException as exc:
        # Typer (which vendors Click) reports usage errors this way: make them one line.
        ctx = getattr(exc, "ctx", None)
        path = ctx.command_path if ctx is not None else "perfop"
        print(error_line(f"{exc.format_message()} (see '{path} --help')"), file=sys.stderr)
        return 2
    except PerfopError as exc:
        print(error_line(exc.message), file=sys.stderr)
        return exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print("perfop: interrupted", file=sys.stderr)
        return 130
    code = int(result or 0)
    if code == 130:  # Typer turns Ctrl-C into a silent exit 130
        print(
            "perfop: interrupted; the samples measured so far are kept in the store",
            file=sys.stderr,
        )
    return code


def entry() -> None:  # pragma: no cover - thin wrapper for the console script
    from perfop.compare import budget

    # This process exists to run one command: its start-up counts against the command's budget.
    budget.mark_process_command()
    exit_now(main())


def exit_now(code: int) -> None:
    """End the process as soon as the command is done: flush the output, run the ``atexit``
    handlers, stop the spawner, then ``os._exit`` -- skipping the interpreter's teardown of
    every module and object (NumPy, SciPy, SQLAlchemy), which took ~0.5 s at load 8 on the
    2-core VM and was not counted in any budget (issue 14 point 8a). Falls back to a normal
    exit while another non-daemon thread runs (it must be waited for), and under a profiler
    or tracer (``python -m cProfile -m perfop``, coverage), which write their results after
    the command returns."""
    import atexit
    import contextlib
    import os
    import threading

    # The command is done: a Ctrl-C now has nothing left to stop but the exit itself.
    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, lambda *_: os._exit(code))
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe (perfop ... | head) has nothing left to flush to.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    launch = sys.modules.get("perfop.measure.launch")
    if launch is not None:
        launch.drop_spawner()
    atexit._run_exitfuncs()
    os._exit(code)
