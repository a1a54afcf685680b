"""perfop's one registry mechanism: an explicit table of named entries, each imported on first use.

An entry names what it stands for as ``"perfop.module:attribute"`` (that attribute) or
``"perfop.module"`` (the module, for one imported for what it defines, e.g. a store's tables).
Every module perfop loads lazily is named in a ``Registry`` in the source, so a reader (and
tests/unit/test_layers.py) sees each dependency; ``Registry`` is the only code in ``src/`` that
imports by name, and tests/unit/test_registry.py checks that every entry resolves.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """``name``'s entries (key -> ``"module[:attribute]"``), in the order given.

    Looking an entry up (``registry[key]``) imports its module the first time and returns the
    attribute (or the module); ``in``, ``len`` and iterating over the keys import nothing.
    """

    def __init__(self, name: str, entries: Mapping[str, str]) -> None:
        self.name = name
        self.entries: dict[str, str] = dict(entries)
        self._loaded: dict[str, T] = {}

    def __getitem__(self, key: str) -> T:
        if key not in self._loaded:
            self._loaded[key] = self._resolve(self.entries[key])
        return self._loaded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def __repr__(self) -> str:
        return f"Registry({self.name!r}, {self.entries!r})"

    def load_all(self) -> dict[str, T]:
        """Every entry, imported, in table order."""
        return {key: self[key] for key in self.entries}

    @staticmethod
    def _resolve(spec: str) -> Any:
        module, _, attribute = spec.partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded


__all__ = ["Registry"]
