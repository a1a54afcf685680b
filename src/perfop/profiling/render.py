"""Render profiles to text: folded stacks, speedscope JSON, a self-contained HTML flame graph,
and the terminal hot-spot / diff tables. Every function returns a string or a renderable; the
caller writes it.

The flame graph is only used where the profiler has no HTML renderer of its own (py-spy writes one
format per run and perfop asks it for speedscope; tracemalloc has none). pyinstrument and memray
artifacts come from their own renderers.
"""

from __future__ import annotations

import html
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from perfop.profiling.model import Frame, HotSpot, ProfilePart, StackSample

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult
    from rich.table import Table

    from perfop.profiling.diff import ProfileDiff


def _label(frame: Frame) -> str:
    return f"{frame.function} ({frame.file}:{frame.line})"


def format_folded(stacks: Iterable[StackSample], *, scale: float = 1.0) -> str:
    """Brendan Gregg's folded format, ``root;...;leaf weight`` per line (weights * ``scale``)."""
    merged: dict[str, float] = {}
    for stack in stacks:
        key = ";".join(_label(f).replace(";", ":") for f in stack.frames)
        merged[key] = merged.get(key, 0.0) + stack.weight * scale
    return "".join(f"{k} {round(v)}\n" for k, v in sorted(merged.items()) if round(v) > 0)


def format_speedscope(stacks: Sequence[StackSample], *, name: str, unit: str) -> str:
    """A speedscope 'sampled' profile; ``unit`` is "seconds" or "bytes"."""
    index: dict[Frame, int] = {}
    samples: list[list[int]] = []
    weights: list[float] = []
    for stack in stacks:
        samples.append([index.setdefault(f, len(index)) for f in stack.frames])
        weights.append(stack.weight)
    frames = [{"name": f.function, "file": f.file, "line": f.line} for f in index]
    doc: dict[str, Any] = {
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": frames},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": unit,
                "startValue": 0,
                "endValue": sum(weights),
                "samples": samples,
                "weights": weights,
            }
        ],
        "name": name,
        "exporter": "perfop",
    }
    return json.dumps(doc)


class _Node:
    __slots__ = ("children", "name", "value")

    def __init__(self, name: str) -> None:
        self.name = name
        self.value = 0.0
        self.children: dict[str, _Node] = {}


def format_flamegraph_html(
    stacks: Iterable[StackSample], *, title: str, unit: str, width: int = 1200
) -> str:
    """A static, self-contained flame graph (SVG in HTML; hover shows the full frame)."""
    root = _Node("all")
    for stack in stacks:
        node = root
        node.value += stack.weight
        for frame in stack.frames:
            node = node.children.setdefault(_label(frame), _Node(_label(frame)))
            node.value += stack.weight
    row_h = 17
    rects: list[str] = []
    depth_max = 0
    total = root.value or 1.0

    def place(node: _Node, x: float, depth: int) -> None:
        nonlocal depth_max
        w = width * node.value / total
        if w < 0.5:
            return
        depth_max = max(depth_max, depth)
        pct = 100.0 * node.value / total
        tip = html.escape(f"{node.name}: {_fmt(node.value, unit)} ({pct:.1f}%)")
        hue = 20 + zlib.crc32(node.name.encode()) % 40
        chars = int(w / 7)
        text = html.escape(node.name[:chars] + ("…" if len(node.name) > chars else ""))
        rects.append(
            f'<g><title>{tip}</title><rect x="{x:.1f}" y="{{Y{depth}}}" width="{w:.1f}" '
            f'height="{row_h - 1}" fill="hsl({hue},85%,60%)"/>'
            + (f'<text x="{x + 3:.1f}" y="{{T{depth}}}">{text}</text>' if chars > 2 else "")
            + "</g>"
        )
        child_x = x
        for child in sorted(node.children.values(), key=lambda n: n.name):
            place(child, child_x, depth + 1)
            child_x += width * child.value / total

    place(root, 0.0, 0)
    height = (depth_max + 1) * row_h
    body = "\n".join(rects)
    for depth in range(depth_max + 1):
        y = height - (depth + 1) * row_h
        body = body.replace(f"{{Y{depth}}}", str(y)).replace(f"{{T{depth}}}", str(y + 12))
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font:12px sans-serif}}"
        "text{font:11px monospace;pointer-events:none}rect:hover{stroke:#000}</style></head>"
        f"<body><h3>{html.escape(title)}</h3>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
        f"{body}</svg></body></html>\n"
    )


def _fmt(value: float, unit: str) -> str:
    """Flame graph titles: s at 3 decimals, binary bytes (general: ``render.format_value``)."""
    if unit == "B":
        return format_bytes(value)
    return f"{value:.3f} s"


def format_bytes(value: float) -> str:
    for suffix, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {suffix}"
    return f"{value:.0f} B"


def _via(via: tuple[str, float] | None) -> str:
    return "" if via is None else f"{via[0]} {via[1]:.0f}%"


def shorten_path(path: str, width: int = 48) -> str:
    """``path`` cut in the middle to about ``width`` characters: its first component and its
    distinguishing tail (the file and its directory, at least) are always kept."""
    parts = path.split("/")
    lead = 2 if path.startswith("/") else 1
    head, rest = parts[:lead], parts[lead:]
    if len(path) <= width or len(rest) <= 3:
        return path
    kept, rest = rest[-2:], rest[:-2]
    while rest and len("/".join([*head, "…", rest[-1], *kept])) <= width:
        kept.insert(0, rest.pop())
    return "/".join([*head, "…", *kept]) if rest else path


def _location(spot: HotSpot) -> str:
    if not spot.file:
        return ""
    file = spot.file if spot.origin == "repo" else shorten_path(spot.file)
    return f"{file}:{spot.line}" if spot.line else file


NARROW = 110  # below this many columns, tables drop their least needed columns


class Fitted:
    """A table built for the width it is printed at (a terminal's, ``COLUMNS``, or the piped
    default): below ``NARROW`` it leaves out its ``optional`` columns, so names wrap less."""

    def __init__(self, build: Callable[[bool], Table]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width < NARROW)


def _table(
    title: str,
    columns: Sequence[str],
    *,
    text: Sequence[str],
    optional: Sequence[str] = (),
    narrow: bool = False,
) -> tuple[Table, list[int]]:
    """A table whose text columns wrap (never an ellipsis that makes two names look alike) and
    whose ids and numbers stay on one line; also the indexes of the columns it kept."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    kept = []
    for i, col in enumerate(columns):
        if narrow and col in optional:
            continue
        kept.append(i)
        if col in text:
            table.add_column(col, justify="left", overflow="fold", ratio=2 if i else None)
        else:
            left = col in ("id", "status")
            table.add_column(col, justify="left" if left else "right", no_wrap=True)
    return table, kept


def _add(table: Table, kept: Sequence[int], cells: Sequence[str]) -> None:
    table.add_row(*(cells[i] for i in kept))


def hotspot_table(part: ProfilePart, *, top: int) -> Fitted:
    """The top ``top`` hot spots of one part by self time, as a Rich table."""
    what = "samples" if part.kind == "cpu" else "allocs"
    value = "self time" if part.kind == "cpu" else "at peak"
    title = f"{part.kind} hot spots by self ({part.backend})"
    if part.peak_bytes:
        title += f", peak {format_bytes(part.peak_bytes)}"

    def build(narrow: bool) -> Table:
        table, kept = _table(
            title,
            ("id", "function", "location", "self %", "total %", value, what),
            text=("function", "location"),
            optional=(what,),
            narrow=narrow,
        )
        for spot in part.hotspots[:top]:
            _add(
                table,
                kept,
                (
                    spot.id,
                    spot.function,
                    _location(spot),
                    f"{spot.self_pct:.1f}",
                    f"{spot.total_pct:.1f}",
                    _fmt(spot.self_value, part.unit),
                    str(spot.count),
                ),
            )
        return table

    return Fitted(build)


def causes_table(part: ProfilePart, *, top: int) -> Fitted:
    """The repository's own functions by inclusive time (callees folded in): where to change
    code. ``dominate`` marks a function whose callees take most of its time."""
    from perfop.profiling.attribution import callees_dominate, rank_causes

    value = "total time" if part.kind == "cpu" else "total"

    def build(narrow: bool) -> Table:
        table, kept = _table(
            f"{part.kind} causes: the repository's functions by total (callees included)",
            ("id", "function", "location", "total %", "self %", value, "callees", "mostly via"),
            text=("function", "location", "mostly via"),
            optional=(value, "location"),
            narrow=narrow,
        )
        for spot in rank_causes(part.hotspots)[:top]:
            share = 1 - spot.self_value / spot.total_value if spot.total_value else 0.0
            _add(
                table,
                kept,
                (
                    spot.id,
                    spot.function,
                    _location(spot),
                    f"{spot.total_pct:.1f}",
                    f"{spot.self_pct:.1f}",
                    _fmt(spot.total_value, part.unit),
                    f"{share:.0%} dominate" if callees_dominate(spot) else f"{share:.0%}",
                    _via(part.via.get(spot.id)),
                ),
            )
        return table

    return Fitted(build)


def diff_table(diff: ProfileDiff, *, top: int) -> Fitted:
    """The top ``top`` rows of a profile diff: changes beyond the noise first (largest first),
    then rows ``within noise``; ``ratio [95%]`` is the interval of each change's ratio."""
    title = (
        f"{diff.kind} profile diff: {diff.base_label} -> {diff.candidate_label} ({_header(diff)})"
    )

    def build(narrow: bool) -> Table:
        table, kept = _table(
            title,
            (
                "function",
                "location",
                "status",
                "self % base",
                "self % cand",
                "Δ share",
                "time/run base",
                "time/run cand",
                "Δ time/run",
                "ratio [95%]",
            ),
            text=("function", "location"),
            optional=("self % base", "self % cand", "Δ share", "time/run base", "time/run cand"),
            narrow=narrow,
        )
        for row in diff.rows[:top]:
            _add(
                table,
                kept,
                (
                    row.function,
                    row.file if not row.file.startswith("/") else shorten_path(row.file),
                    row.status,
                    f"{row.base_self_pct:.1f}",
                    f"{row.candidate_self_pct:.1f}",
                    f"{row.delta_share_points:+.1f}",
                    _fmt(row.base_value, diff.unit),
                    _fmt(row.candidate_value, diff.unit),
                    ("+" if row.delta_value >= 0 else "-") + _fmt(abs(row.delta_value), diff.unit),
                    _ratio(row.ratio_low, row.ratio_high, row.status),
                ),
            )
        return table

    return Fitted(build)


def _ratio(low: float | None, high: float | None, status: str) -> str:
    if low is None or high is None:
        return "?"
    if status in ("new", "vanished"):
        return status
    return f"[{low:.2f}, {high:.2f}]"


def _header(diff: ProfileDiff) -> str:
    """The totals of the same paired runs: CPU (or wall) ratio with its interval, wall medians."""
    parts = []
    total = diff.total
    if total is not None and diff.kind == "cpu":
        name = "cpu" if total.metric == "cpu_time" else "wall"
        text = f"{name} {total.base:.3f} s -> {total.candidate:.3f} s, x{total.ratio:.3f}"
        if total.low is not None and total.high is not None:
            text += f" [{total.low:.3f}, {total.high:.3f}]"
            if total.within_noise:
                text += " within noise"
        parts.append(text)
    if total is None or total.metric != "wall_time" or diff.kind != "cpu":
        parts.append(f"wall {diff.base_wall:.3f} s -> {diff.candidate_wall:.3f} s")
    if diff.repeat > 1:
        parts.append(f"{diff.repeat} paired runs per side")
    return "; ".join(parts)
