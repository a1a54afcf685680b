"""A Typer group whose verbs are imported only when one of them is used.

Building the whole command tree imported every ``perfop.cli`` module and had Typer introspect
every verb's signature (~30 verbs, ~100 functions): most of the cost of ``perfop --help`` and a
large share of every command's start (issue 18). ``LazyGroup`` knows each verb's name, the module
that registers it and the first sentence of its help (all that the verb list of ``perfop --help``
shows) from a static table; a verb's module is imported, registered and built by Typer the first
time that verb is looked up. tests/unit/test_cli_lazy.py keeps the table equal to what the
modules register, and the lazy help equal to the eager one.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from gettext import gettext
from typing import Any, NamedTuple

import typer
from typer import _click as click
from typer.core import TyperCommand, TyperGroup, TyperOption


class Verb(NamedTuple):
    name: str
    module: str  # under perfop.cli; it defines ``register(app)``
    summary: str  # the first sentence of the verb's help (what the verb list shows)


class _Commands(MutableMapping[str, click.Command]):
    """The group's commands: a verb's module is imported on the first look-up of one of its
    verbs; iteration and ``in`` use the table alone (nothing is imported)."""

    def __init__(self, verbs: Mapping[str, Verb], load: Any, initial: Mapping[str, Any]) -> None:
        self._verbs = verbs
        self._load = load
        self._built: dict[str, click.Command] = dict(initial)

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._built and name in self._verbs:
            self._built.update(self._load(self._verbs[name].module))
        return self._built[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*self._verbs, *self._built]))

    def __len__(self) -> int:
        return len(set(self._verbs) | set(self._built))

    def __contains__(self, name: object) -> bool:
        return name in self._verbs or name in self._built


class LazyGroup(TyperGroup):
    """The root group: ``verbs`` (class attribute, set by ``lazy_group``) in help order."""

    verbs: tuple[Verb, ...] = ()
    settings: dict[str, Any] = {}  # noqa: RUF012 - per subclass, never mutated

    def __init__(self, **attrs: Any) -> None:
        attrs["params"] = [_absent_is_none(p) for p in attrs.get("params") or ()]
        super().__init__(**attrs)
        self.commands = _Commands({v.name: v for v in self.verbs}, self._build, self.commands)

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            _absent_is_none(option)
        return option

    def _build(self, module: str) -> dict[str, click.Command]:
        """The commands ``perfop.cli.<module>`` registers, built by Typer exactly as when they
        are registered on the root app (same markup, exception and suggestion settings)."""
        sub = typer.Typer(**self.settings)
        importlib.import_module(f"perfop.cli.{module}").register(sub)
        return dict(typer.main.get_group(sub).commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The verb list from the table, laid out as Click lays out a group's commands: a
        stand-in per verb carries the first sentence, which Click shortens exactly as it
        shortens the whole help (it reads no further)."""
        built = self.commands._built if isinstance(self.commands, _Commands) else {}
        shown = [
            (v.name, built.get(v.name) or TyperCommand(name=v.name, help=v.summary))
            for v in self.verbs
        ]
        shown = [(name, cmd) for name, cmd in shown if not cmd.hidden]
        if shown:
            limit = formatter.width - 6 - max(len(name) for name, _ in shown)
            with formatter.section(gettext("Commands")):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])


_OPTIONAL: dict[type, type] = {}


def _absent_is_none(param: click.Parameter) -> click.Parameter:
    """``param``, with an absent value (None) handed to its callback as None without Typer's
    coercion.

    Typer (0.29) builds a parameter's pydantic TypeAdapter before it looks at the value, so the
    root group's options (--repo, --config, --store, and --help itself), absent on most command
    lines, imported pydantic (~40-90 ms here) for every ``perfop VERB --help``. For an optional
    single-valued parameter that coercion returns None for None, so skipping it changes
    nothing; any other parameter is returned as it is.
    """
    cls = type(param)
    if param.required or param.multiple or param.nargs != 1 or cls in _OPTIONAL.values():
        return param
    if cls not in _OPTIONAL:
        _OPTIONAL[cls] = _optional_class(cls)
    param.__class__ = _OPTIONAL[cls]
    return param


def _optional_class(cls: type[click.Parameter]) -> type[click.Parameter]:
    def process_value(self: click.Parameter, ctx: click.Context, value: Any) -> Any:
        if value is not None:
            return cls.process_value(self, ctx, value)
        # What Typer does with None for an optional single value, less building the coercion.
        return value if self.callback is None else self.callback(ctx, self, value)

    return type(f"Optional{cls.__name__}", (cls,), {"process_value": process_value})


def lazy_group(verbs: tuple[Verb, ...], **settings: Any) -> type[LazyGroup]:
    """A ``LazyGroup`` class for ``typer.Typer(cls=...)``; ``settings`` are the root Typer's
    ``rich_markup_mode``, ``pretty_exceptions_short`` and ``suggest_commands``."""
    return type("PerfopGroup", (LazyGroup,), {"verbs": verbs, "settings": settings})
