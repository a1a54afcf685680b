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

import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from enum import Enum
from gettext import gettext
from typing import Any, NamedTuple

import typer
from typer import _click as click
from typer._click.exceptions import MissingParameter
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
    # module name (Verb.module) -> its ``register(app)``: perfop.cli.COMMAND_MODULES
    registers: Mapping[str, Callable[[typer.Typer], None]] = {}
    settings: dict[str, Any] = {}  # noqa: RUF012 - per subclass, never mutated

    def __init__(self, **attrs: Any) -> None:
        attrs["params"] = [_plain_coercion(p) for p in attrs.get("params") or ()]
        super().__init__(**attrs)
        self.commands = _Commands({v.name: v for v in self.verbs}, self._build, self.commands)

    def get_help_option(self, ctx: click.Context) -> TyperOption | None:
        option = super().get_help_option(ctx)
        if option is not None:
            _plain_coercion(option)
        return option

    def _build(self, module: str) -> dict[str, click.Command]:
        """The commands ``perfop.cli.<module>`` registers, built by Typer exactly as when they
        are registered on the root app (same markup, exception and suggestion settings)."""
        sub = typer.Typer(**self.settings)
        self.registers[module](sub)
        commands = dict(typer.main.get_group(sub).commands)
        for command in commands.values():
            plain_params(command)
        return commands

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


_PLAIN: dict[type, type] = {}
_MISS = object()
# Strings whose int / float value no parser can disagree on (no sign, spaces, "_", exponent)
_INT = re.compile(r"0|-?[1-9][0-9]{0,17}")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]{0,15})(\.[0-9]{1,17})?")


def _plain_coercion(param: click.Parameter) -> click.Parameter:
    """``param``, coercing its plain values without building Typer's pydantic adapter.

    Typer (0.29) coerces every parameter's value through a pydantic TypeAdapter built on first
    use, even an absent one (None) or a default: the root options alone imported pydantic for
    every ``perfop VERB --help``, and building the adapters of a verb's options imported
    ``typer._adapters`` and pydantic's validator machinery (~20 ms of CPU beyond pydantic
    itself, issue 18) before the verb ran. ``_plain_value`` gives what the adapter gives for
    the values it recognises (None, a str for ``str``, an int for ``int``, a digit string for
    ``int``/``float``, a bool flag, an Enum choice, a list of str); anything else, and every
    value it would refuse, still goes through Typer's own coercion, which reports the error.
    tests/unit/test_cli_lazy.py checks the two agree on every parameter of every verb.
    """
    cls = type(param)
    if not hasattr(param, "type_descriptor") or cls in _PLAIN.values():
        return param
    if cls not in _PLAIN:
        _PLAIN[cls] = _plain_class(cls)
    param.__class__ = _PLAIN[cls]
    return param


def plain_params(command: click.Command) -> None:
    """``_plain_coercion`` on every parameter of ``command`` and of its subcommands, their
    ``--help`` options included (Click makes those when a command is invoked)."""
    for param in command.params:
        _plain_coercion(param)
    cls = type(command)
    if cls not in _HELPS.values():
        if cls not in _HELPS:
            _HELPS[cls] = type(cls.__name__, (cls,), {"get_help_option": _plain_help(cls)})
        command.__class__ = _HELPS[cls]
    for sub in (getattr(command, "commands", None) or {}).values():
        plain_params(sub)


_HELPS: dict[type, type] = {}


def _plain_help(cls: type[click.Command]) -> Any:
    def get_help_option(self: click.Command, ctx: click.Context) -> Any:
        option = cls.get_help_option(self, ctx)
        return option if option is None else _plain_coercion(option)

    return get_help_option


def _plain_class(cls: type[click.Parameter]) -> type[click.Parameter]:
    def process_value(self: Any, ctx: click.Context, value: Any) -> Any:
        coerced = _plain_value(self, ctx, value)
        if coerced is _MISS:
            return cls.process_value(self, ctx, value)
        # What Typer does after its coercion (typer.core._TyperParameter.process_value).
        if self.required and self.value_is_missing(coerced):
            raise MissingParameter(ctx=ctx, param=self)
        return coerced if self.callback is None else self.callback(ctx, self, coerced)

    return type(f"Plain{cls.__name__}", (cls,), {"process_value": process_value})


def _plain_value(param: Any, ctx: click.Context, value: Any) -> Any:
    """``value`` as Typer's adapter for ``param`` returns it, or ``_MISS`` to let Typer coerce."""
    desc = param.type_descriptor
    info = desc.parameter_info
    many = param.multiple or param.nargs == -1
    if value is None:  # typer._coercion.RuntimeParam.coerce, whatever the adapter
        return () if many else None
    if info.parser is not None or desc.file_annotation is not None:
        return _MISS
    ann = desc.annotation
    if many:
        plain = ann == list[str] and isinstance(value, list | tuple)
        return list(value) if plain and all(type(v) is str for v in value) else _MISS
    kind = type(value)
    if ann is str and kind is str:
        return value
    if ann is bool and kind is bool:
        return value
    if ann in (int, float) and info.min is None and info.max is None:
        if kind is ann:
            return value
        if kind is str and (_INT if ann is int else _DECIMAL).fullmatch(value):
            return ann(value)
        if ann is float and kind is int:
            return float(value)
        return _MISS
    if isinstance(ann, type) and issubclass(ann, Enum):
        from typer._param_types import coerce_cli_choice

        try:
            return coerce_cli_choice(
                value, choices=list(ann), case_sensitive=info.case_sensitive, ctx=ctx
            )
        except (ValueError, TypeError):
            return _MISS
    return _MISS


def lazy_group(
    verbs: tuple[Verb, ...],
    registers: Mapping[str, Callable[[typer.Typer], None]],
    **settings: Any,
) -> type[LazyGroup]:
    """A ``LazyGroup`` class for ``typer.Typer(cls=...)``: ``verbs`` in help order, each
    ``Verb.module``'s ``register(app)`` in ``registers`` (a ``perfop.registry.Registry``, which
    imports the module on look-up); ``settings`` are the root Typer's ``rich_markup_mode``,
    ``pretty_exceptions_short`` and ``suggest_commands``."""
    attrs = {"verbs": verbs, "registers": registers, "settings": settings}
    return type("PerfopGroup", (LazyGroup,), attrs)
