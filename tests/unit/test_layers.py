"""Layers you can see: perfop's import graph, read from the source (every ``import``, including
those inside functions and under ``TYPE_CHECKING``, and every string that names a perfop module,
which is how a ``perfop.registry.Registry`` names its entries: ``"perfop.report.html:render"``),
has no cycles between its parts and no import from a lower layer up into a higher one.
docs/architecture.md draws the same table.

A *part* is a top-level module (``perfop.config``) or a subpackage (``perfop.store``).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Mapping
from pathlib import Path

import perfop

SRC = Path(perfop.__file__).resolve().parent
SKIP = {"examples"}  # the bundled demo project, not perfop's code

# Bottom to top: a part may import its own layer and those below, never one above.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    # Pure: the domain records, the statistics, errors, redaction, the registry mechanism.
    (
        "core",
        frozenset(
            {
                "__init__",
                "clock",
                "describe",
                "errors",
                "interrupts",
                "model",
                "redact",
                "registry",
                "stats",
            }
        ),
    ),
    ("system", frozenset({"environment", "git"})),
    ("records", frozenset({"records"})),
    ("store", frozenset({"store"})),
    ("config", frozenset({"config"})),
    # The lifecycle's stages, each a package, in pipeline order: measure -> compare -> the
    # features built on both (profiling, history, engagement, report, CI).
    ("measure", frozenset({"measure"})),
    ("compare", frozenset({"compare"})),
    (
        "features",
        frozenset({"app", "ci", "engagement", "history", "profiling", "render", "report"}),
    ),
    # The tools and JSON envelopes every front end shares (perfop.services): above the features
    # they call, below the front ends that adapt them.
    ("operations", frozenset({"services"})),
    ("frontends", frozenset({"__main__", "agent", "cli", "demo", "init_agent", "mcp"})),
)

# Front ends sit in one layer but do not call each other: each calls the layers below. The only
# edges between them start one from another (`perfop mcp` serves, `perfop agent` runs it).
LAUNCHES: Mapping[str, frozenset[str]] = {
    "__main__": frozenset({"cli"}),
    "cli": frozenset({"agent", "demo", "init_agent", "mcp"}),
}

# Exceptions, each with the reason (none now: the suite kinds moved under measure/, base_argv
# into config); an entry that no longer occurs fails the test (remove it).
ALLOWED: Mapping[tuple[str, str], str] = {}


def layer_of() -> dict[str, int]:
    return {part: i for i, (_, parts) in enumerate(LAYERS) for part in parts}


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _part(module: str) -> str:
    names = module.split(".")
    return names[1] if len(names) > 1 else "__init__"


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterable[str]:
    here = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and str(node.value).startswith("perfop."):
            yield str(node.value)  # a module loaded by name; kept when it is one of perfop's


@functools.cache
def part_graph() -> Mapping[str, frozenset[str]]:
    """part -> the parts it imports (perfop's own modules only)."""
    files = [p for p in SRC.rglob("*.py") if p.relative_to(SRC).parts[0] not in SKIP]
    modules = {_module(p) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        module = _module(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph.setdefault(_part(module), set())
        for target in _imported(tree, module, path.name == "__init__.py"):
            if target in modules and target != "perfop" and _part(target) != _part(module):
                graph[_part(module)].add(_part(target))
    return {part: frozenset(targets) for part, targets in graph.items()}


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one part (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group: list[str] = []
            while not group or group[-1] != v:
                group.append(stack.pop())
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def upward(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    rank = layer_of()
    return sorted((a, b) for a, bs in graph.items() for b in bs if rank[b] > rank[a])


def between_front_ends(graph: Mapping[str, Iterable[str]]) -> list[tuple[str, str]]:
    """Edges from one front end to another that only launches it could justify."""
    fronts = dict(LAYERS)["frontends"]
    return sorted(
        (a, b)
        for a, bs in graph.items()
        if a in fronts
        for b in bs
        if b in fronts and b not in LAUNCHES.get(a, frozenset())
    )


def _without_allowed(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    return {a: {b for b in bs if (a, b) not in ALLOWED} for a, bs in graph.items()}


def test_every_part_has_a_layer() -> None:
    names = [part for _, parts in LAYERS for part in parts]
    assert len(names) == len(set(names)), "a part is in two layers"
    missing = sorted(set(part_graph()) - set(names))
    assert not missing, f"give these parts a layer in LAYERS (and docs/architecture.md): {missing}"


def test_no_upward_imports() -> None:
    found = [edge for edge in upward(part_graph()) if edge not in ALLOWED]
    names = {part: name for name, parts in LAYERS for part in parts}
    assert not found, "upward imports: " + ", ".join(
        f"{a} ({names[a]}) -> {b} ({names[b]})" for a, b in found
    )


def test_front_ends_call_services_not_each_other() -> None:
    # The agent runner calls perfop.services' tools, not the MCP server's front end.
    assert between_front_ends(part_graph()) == []


def test_no_cycles_between_parts() -> None:
    assert cycles(_without_allowed(part_graph())) == []


def test_each_allowed_edge_still_exists() -> None:
    graph = part_graph()
    stale = [edge for edge in ALLOWED if edge[1] not in graph.get(edge[0], frozenset())]
    assert not stale, f"no longer imported, remove from ALLOWED: {stale}"


def test_the_checks_catch_a_cycle_and_an_upward_import() -> None:
    graph = {"store": {"engagement", "model"}, "engagement": {"store"}, "model": set()}
    assert cycles(graph) == [["engagement", "store"]]
    assert upward(graph) == [("store", "engagement")]


def test_the_checks_catch_an_agent_on_the_mcp_front_end_and_services_on_any() -> None:
    graph = {
        "agent": {"mcp", "services"},
        "mcp": {"services"},
        "cli": {"mcp", "services"},
        "services": {"cli", "mcp", "agent", "engagement"},
    }
    assert between_front_ends(graph) == [("agent", "mcp")]
    assert upward(graph) == [("services", "agent"), ("services", "cli"), ("services", "mcp")]


def test_imports_inside_functions_count() -> None:
    tree = ast.parse(
        "def f():\n    from perfop.store import Store\n    import perfop.cli\n"
        "PLUGINS = ('perfop.report.checks',)\n"
    )
    assert set(_imported(tree, "perfop.records.engagement", False)) == {
        "perfop.store",
        "perfop.store.Store",
        "perfop.cli",
        "perfop.report.checks",
    }
