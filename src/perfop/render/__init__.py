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


def format_value(value: float | None, unit: str) -> str:
    """Human units: seconds adapt from ns to s, bytes from B to GiB; others keep their unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "s":
        magnitude = abs(value)
        for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if magnitude >= scale:
                return f"{value / scale:.4g} {suffix}"
        return f"{value / 1e-9:.4g} ns" if value else "0 s"
    if unit == "B":
        for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{value / scale:.4g} {suffix}"
        return f"{value:.0f} B"
    return f"{value:.4g} {unit}".rstrip()


def format_ratio(ratio: float) -> str:
    """1.84x faster-style magnitudes are the caller's; this prints the raw ratio compactly."""
    return f"{ratio:.3f}x"
