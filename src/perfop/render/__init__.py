"""Renderers: data in, text (or a Rich renderable) out. Nothing here writes to a terminal or file.

``to_text`` renders any Rich renderable to a plain string at a fixed width, which is how tests and
non-terminal front ends (MCP, reports) get the same tables a person sees.
"""

from __future__ import annotations

import io
import math
from typing import Any


def to_text(renderable: Any, *, width: int = 100) -> str:
    from rich.console import Console

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        color_system=None,
        force_terminal=False,
        no_color=True,
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(renderable)
    return buf.getvalue()


_TIME_SCALES = ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"))


def time_scale(seconds: float) -> tuple[float, str]:
    """The largest of s, ms, µs that ``seconds`` reaches (ns below): (scale, suffix)."""
    magnitude = abs(seconds)
    return next(((s, u) for s, u in _TIME_SCALES if magnitude >= s), (1e-9, "ns"))


def format_value(value: float | None, unit: str) -> str:
    """Human units: seconds adapt from ns to s, bytes from B to GiB; others keep their unit.

    perfop's one unit formatter. Three compact variants keep the precision their outputs pin
    (golden files, aligned columns): ``cli.compare._fmt_value`` (ms with 2 decimals, MiB),
    ``publish._fmt`` (µs/ms/s with 0/1/3 decimals) and ``profiling.render._fmt`` (s with 3
    decimals, ``format_bytes``); they differ from this one by design, not by accident.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "s":
        if not value:
            return "0 s"
        scale, suffix = time_scale(value)
        return f"{value / scale:.4g} {suffix}"
    if unit == "B":
        for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.4g} {suffix}"
        return f"{value:.0f} B"
    return f"{value:.4g} {unit}".rstrip()


def format_ratio(ratio: float) -> str:
    """1.84x faster-style magnitudes are the caller's; this prints the raw ratio compactly."""
    return f"{ratio:.3f}x"
