"""One registry mechanism (perfop.registry): every lazily loaded module is an entry of a
``Registry`` in the source, every entry resolves, and nothing else in src/ imports by name."""

from __future__ import annotations

import ast
import functools
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfop.registry import Registry

SRC = Path(__file__).resolve().parents[2] / "src" / "perfop"

# Calls that import a module by name or discover modules: only Registry may make them.
BY_NAME = frozenset({"import_module", "__import__", "iter_modules", "walk_packages"})
SPEC = frozenset({"find_spec", "spec_from_file_location", "module_from_spec"})


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@functools.cache
def _trees() -> dict[Path, ast.Module]:
    return {
        path: ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(SRC.rglob("*.py"))
    }


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def registries_in_source() -> Iterator[tuple[str, str]]:
    """(module, name) of every module-level ``NAME = Registry(...)`` / ``NAME: ... =
    Registry(...)`` in src/perfop."""
    for path, tree in _trees().items():
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if not (isinstance(value, ast.Call) and _called(value) == "Registry"):
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                assert isinstance(target, ast.Name), ast.unparse(node)
                yield _module(path), target.id


def imports_by_name() -> list[str]:
    """Every import by name or module discovery in src/ outside perfop/registry.py (a
    ``find_spec`` of another distribution's module, e.g. a profiler, is no perfop import)."""
    found = []
    for path, tree in _trees().items():
        if path == SRC / "registry.py":
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            first = node.args[0] if node.args else None
            names_perfop = isinstance(first, ast.Constant) and str(first.value).startswith("perfop")
            if name in BY_NAME or (name in SPEC and names_perfop):
                found.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {ast.unparse(node)}")
    return found


REGISTRIES = sorted(registries_in_source())


def test_the_registries_are_found() -> None:
    # The scan below checks whatever it finds: make sure it finds the known tables.
    assert {
        ("perfop.cli", "COMMAND_MODULES"),
        ("perfop.report", "RENDERERS"),
        ("perfop.store", "TABLE_MODULES"),
    } <= set(REGISTRIES)


@pytest.mark.parametrize(("module", "name"), REGISTRIES, ids=[".".join(r) for r in REGISTRIES])
def test_every_entry_resolves(module: str, name: str) -> None:
    registry = getattr(importlib.import_module(module), name)
    assert isinstance(registry, Registry)
    for key, spec in registry.entries.items():
        # a full perfop module name, so tests/unit/test_layers.py sees the dependency
        assert spec.startswith("perfop."), (name, key, spec)
        assert registry[key] is not None, (name, key, spec)
        target, _, attribute = spec.partition(":")
        assert target in sys.modules
        if attribute:
            assert registry[key] is getattr(sys.modules[target], attribute)


def test_nothing_else_imports_by_name() -> None:
    assert imports_by_name() == []


def test_the_scan_sees_an_import_by_name() -> None:
    tree = ast.parse("importlib.import_module('perfop.x')\n__import__('perfop.y')\n")
    assert sorted(_called(n) for n in ast.walk(tree) if isinstance(n, ast.Call)) == [
        "__import__",
        "import_module",
    ]


def test_a_look_up_imports_only_its_entry() -> None:
    registry: Registry[object] = Registry(
        "t", {"json": "json:dumps", "none": "perfop.no_such_module", "mod": "json"}
    )
    assert list(registry) == ["json", "none", "mod"]
    assert "none" in registry and "other" not in registry and len(registry) == 3
    import json

    assert registry["json"] is json.dumps
    assert registry["mod"] is json
    with pytest.raises(ModuleNotFoundError):
        registry["none"]
    with pytest.raises(KeyError):
        registry["other"]
