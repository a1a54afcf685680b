"""The lazily built CLI (perfop.cli.lazy) is the CLI the modules register, verb for verb.

``perfop --help`` lists the verbs from a static table (perfop.cli.verbs) and a verb's module is
imported only when the verb runs; these tests build the whole tree eagerly, the way it was built
before, and compare: the table, the top-level help at several widths, every verb's help, and
the errors of the root group.
"""

from __future__ import annotations

import contextlib
import importlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main

import perfop.cli as cli
from perfop.cli.lazy import Verb
from perfop.cli.verbs import VERBS


def _eager_app() -> typer.Typer:
    """The root app as it was built before the lazy group: same settings and root callback,
    every module's ``register`` called in COMMAND_MODULES order."""
    info = cli.app.info
    app = typer.Typer(
        name=info.name,
        help=info.help,
        no_args_is_help=info.no_args_is_help,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings=info.context_settings,
    )
    assert cli.app.registered_callback is not None
    app.callback()(cli.app.registered_callback.callback)  # type: ignore[arg-type]
    for name in cli.COMMAND_MODULES:
        importlib.import_module(f"perfop.cli.{name}").register(app)
    return app


def _first_sentence(help_text: str) -> str:
    # What Click's short help reads: the first paragraph up to its first sentence end.
    words = help_text.split("\n\n", 1)[0].split()
    for i, word in enumerate(words):
        if word.endswith("."):
            return " ".join(words[: i + 1])
    return " ".join(words)


def _eager_verbs() -> list[Verb]:
    owner: dict[str, str] = {}
    for module in cli.COMMAND_MODULES:
        sub = typer.Typer()
        importlib.import_module(f"perfop.cli.{module}").register(sub)
        for name in typer.main.get_group(sub).commands:
            owner[name] = module
    group = typer.main.get_group(_eager_app())
    return [
        Verb(name, owner[name], _first_sentence(cmd.help or ""))
        for name, cmd in group.commands.items()
    ]


def test_the_verb_table_is_what_the_modules_register() -> None:
    expected = _eager_verbs()
    table = "\n".join(f"    Verb({v.name!r}, {v.module!r}, {v.summary!r})," for v in expected)
    assert list(VERBS) == expected, (
        "perfop.cli.verbs.VERBS is out of date with the modules' register(); replace its "
        f"entries with:\n{table}"
    )
    assert set(cli.COMMAND_MODULES) == {v.module for v in VERBS}


@contextlib.contextmanager
def _columns(monkeypatch: pytest.MonkeyPatch, width: int) -> Iterator[None]:
    with monkeypatch.context() as m:
        m.setenv("COLUMNS", str(width))  # shutil.get_terminal_size reads it first
        yield


def _output(app: Any, args: list[str]) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(args=args, prog_name="perfop", standalone_mode=False)
        except typer.Exit:
            pass
        except Exception as exc:  # usage errors: compare their messages
            err.write(f"{type(exc).__name__}: {getattr(exc, 'format_message', str)()}")
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("width", [50, 80, 120])
def test_top_level_help_is_the_eager_help(monkeypatch: pytest.MonkeyPatch, width: int) -> None:
    eager = _eager_app()
    with _columns(monkeypatch, width):
        lazy_help = _output(cli.app, ["--help"])
        assert lazy_help == _output(eager, ["--help"])
        assert _output(cli.app, []) == _output(eager, [])  # no_args_is_help
    assert "Commands:" in lazy_help[0]
    assert all(f"\n  {v.name} " in lazy_help[0] for v in VERBS)


def test_every_verbs_help_is_the_eager_help(monkeypatch: pytest.MonkeyPatch) -> None:
    # Built once each (the eager tree costs seconds to build): the group is what app() calls.
    eager = typer.main.get_command(_eager_app())
    lazy = typer.main.get_command(cli.app)
    assert isinstance(eager, typer.core.TyperGroup)
    checked = 0
    with _columns(monkeypatch, 100):
        for name, cmd in eager.commands.items():
            paths = [[name]]
            if isinstance(cmd, typer.core.TyperGroup):
                paths += [[name, sub] for sub in cmd.commands]
            for path in paths:
                assert _output(lazy, [*path, "--help"]) == _output(eager, [*path, "--help"])
                checked += 1
    assert checked > len(VERBS)


def test_root_errors_and_options_are_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    eager = _eager_app()
    missing = str(tmp_path / "nosuch")
    cases = [
        ["rnu"],  # a typo: "Did you mean 'run'?"
        ["--nosuch"],
        ["--version"],
        ["--repo"],  # an option without its value
        ["--repo", missing, "run", "--help"],
        ["runs", "nosuch"],
    ]
    with _columns(monkeypatch, 80):
        for args in cases:
            assert _output(cli.app, args) == _output(eager, args), args
    assert "Did you mean 'run'?" in _output(cli.app, ["rnu"])[1]


def test_a_verb_builds_only_its_own_module() -> None:
    group = typer.main.get_command(cli.app)
    ctx = typer.Context(group)
    assert group.get_command(ctx, "nosuch") is None
    built = group.get_command(ctx, "status")
    assert built is not None and built.name == "status"
    assert "status" in group.commands and "run" in group.commands  # known without building
    assert list(group.commands) == [v.name for v in VERBS]


# Values a parameter can receive from Click (strings, tuples for many) or as its default.
_CANDIDATES: tuple[Any, ...] = (
    None, "", "0", "1", "-3", "42", "007", "-0", "+5", " 1", "1_000", "1e3", "1.5", "-0.25",
    "0.01", "3.0", "inf", "nan", "abc", "json", "JSON", "text", "Text", "true", "false", True,
    False, 0, 5, 2.5, (), ("a", "b"), ["x"], ("a", 1),
)  # fmt: skip


def _params(command: Any) -> Iterator[tuple[Any, Any]]:
    for param in command.params:
        yield command, param
    for sub in getattr(command, "commands", {}).values():
        yield from _params(sub)


def test_plain_coercion_is_typers_coercion_on_every_parameter() -> None:
    # perfop.cli.lazy coerces plain values itself so that Typer builds no pydantic adapter on
    # the way to a verb: for every parameter of every verb (and the root options), each value
    # it takes is taken to exactly what Typer's adapter makes of it, and every other value is
    # left to Typer.
    from perfop.cli.lazy import _MISS, _plain_value

    group = typer.main.get_group(_eager_app())
    taken = 0
    for command, param in [*_params(group)]:
        if not hasattr(param, "type_descriptor"):
            continue
        ctx = typer.Context(command)
        for value in (*_CANDIDATES, param.default):
            plain = _plain_value(param, ctx, value)
            try:
                typers = param.get_runtime_param().coerce(value, param=param, ctx=ctx)
            except Exception:
                assert plain is _MISS, (command.name, param.name, value)
                continue
            if plain is not _MISS:
                taken += 1
                assert type(plain) is type(typers), (command.name, param.name, value)
                assert plain == typers, (command.name, param.name, value)
    assert taken > 300


def test_a_run_builds_no_typer_adapter(tmp_path: Path) -> None:
    import subprocess
    import sys

    store = f"sqlite:///{tmp_path / 's.db'}"
    code = (
        "import contextlib, io, sys\n"
        "from perfop.cli import main\n"
        "out, err = io.StringIO(), io.StringIO()\n"
        "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):\n"
        f"    main(['--store', {store!r}, 'run', '--runs', '2', '--warmup', '0', '--timeout', "
        "'30', '--format', 'json', '--', 'true'])\n"
        f"    main(['--store', {store!r}, 'runs', 'list', '--limit', '2000', '-w', 'adhoc'])\n"
        "print('typer._adapters' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
