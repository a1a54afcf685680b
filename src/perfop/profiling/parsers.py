"""Turn each profiler's own output into ``StackSample`` rows: pure functions over parsed data.

- py-spy: its speedscope JSON (``--format speedscope``), one profile per process/thread.
- pyinstrument: ``Session.frame_records`` (identifier strings ``func\\0file\\0line\\x01l..``).
- memray: high-water-mark records as ``(stack_trace innermost-first, size, n_allocations)``.
- perfop's sampler: the bootstrap's JSON (stacks root first, seconds and sample counts).
- tracemalloc: the bootstrap's JSON (frames are file + line; a resolver names the function).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from perfop.profiling.model import Frame, StackSample


def parse_speedscope(doc: Mapping[str, Any]) -> list[StackSample]:
    """Stacks of a speedscope file's sampled profiles (py-spy writes seconds as weights)."""
    raw_frames = doc.get("shared", {}).get("frames", [])
    frames = [
        Frame(str(f.get("name", "?")), str(f.get("file") or ""), int(f.get("line") or 0))
        for f in raw_frames
    ]
    # py-spy adds a pseudo-frame per process ("process 123:\"cmd\"") at the root with no file.
    keep = [not (f.file == "" and f.function.startswith("process ")) for f in frames]
    out: list[StackSample] = []
    for profile in doc.get("profiles", []):
        if profile.get("type") != "sampled":
            continue
        samples = profile.get("samples", [])
        weights = profile.get("weights") or [1.0] * len(samples)
        scale = _unit_scale(str(profile.get("unit", "seconds")))
        for stack, weight in zip(samples, weights, strict=False):
            chain = tuple(frames[i] for i in stack if keep[i])
            if chain:
                out.append(StackSample(chain, float(weight) * scale, 1))
    return out


def parse_sampler(doc: Mapping[str, Any]) -> list[StackSample]:
    """Stacks of perfop's own stdlib sampler (the bootstrap's ``sampler`` JSON, root first)."""
    out: list[StackSample] = []
    for entry in doc.get("stacks", []):
        chain = tuple(Frame(str(f[0]), str(f[1]), int(f[2])) for f in entry.get("frames", []))
        if chain:
            out.append(StackSample(chain, float(entry["seconds"]), int(entry.get("count", 1))))
    return out


def _unit_scale(unit: str) -> float:
    return {"seconds": 1.0, "milliseconds": 1e-3, "microseconds": 1e-6, "nanoseconds": 1e-9}.get(
        unit, 1.0
    )


def parse_pyinstrument_records(
    records: Iterable[tuple[Sequence[str], float]], *, interval: float
) -> list[StackSample]:
    """Stacks of pyinstrument ``frame_records``; ``count`` estimates samples from the interval."""
    out: list[StackSample] = []
    for identifiers, seconds in records:
        chain = tuple(f for f in (_pyinstrument_frame(i) for i in identifiers) if f is not None)
        if chain:
            out.append(StackSample(chain, float(seconds), max(1, round(seconds / interval))))
    return out


def _pyinstrument_frame(identifier: str) -> Frame | None:
    head, *attributes = identifier.split("\x01")
    parts = head.split("\x00")
    if len(parts) < 3 or parts[1] == "<thread>":
        return None
    function, file, first_line = parts[0], parts[1], parts[2]
    for attr in attributes:
        if attr.startswith("c") and attr[1:]:
            function = f"{attr[1:]}.{function}"
    try:
        line = int(first_line)
    except ValueError:
        line = 0
    return Frame(function, file, line)


def parse_memray_records(
    records: Iterable[tuple[Sequence[tuple[str, str, int]], int, int]],
) -> list[StackSample]:
    """Stacks of memray allocation records (``stack_trace()`` is innermost first)."""
    out: list[StackSample] = []
    for trace, size, n_allocations in records:
        chain = tuple(Frame(str(fn), str(file), int(line)) for fn, file, line in reversed(trace))
        out.append(StackSample(chain, float(size), int(n_allocations)))
    return out


def parse_tracemalloc(
    doc: Mapping[str, Any], *, function_at: Callable[[str, int], str]
) -> list[StackSample]:
    """Stacks of the bootstrap's tracemalloc dump; ``function_at(file, line)`` names the frame."""
    out: list[StackSample] = []
    for trace in doc.get("traces", []):
        chain = tuple(
            Frame(function_at(str(file), int(line)), str(file), int(line))
            for file, line in trace.get("frames", [])  # oldest first, like ours
        )
        out.append(StackSample(chain, float(trace.get("size", 0)), int(trace.get("count", 1))))
    return out


def enclosing_function(source: str, line: int) -> str:
    """Qualified name of the innermost function (or class body) containing ``line``.

    ``<module>`` for top-level code, matching what py-spy and memray call it.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "<module>"
    best = "<module>"

    def visit(node: ast.AST, prefix: str) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                name = f"{prefix}{child.name}"
                if start <= line <= end:
                    best = name
                    visit(child, f"{name}.")
                    return
            else:
                visit(child, prefix)

    visit(tree, "")
    return best
