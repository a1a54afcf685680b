"""Hand-off reports: ``ReportData`` (collected from the store) rendered to Markdown, HTML or JSON.

Pipeline: ``data.collect`` (the only part that reads) -> ``content`` (pure: summary sentences,
risks, rollback, changelog) -> a renderer from ``RENDERERS`` (``render(data) -> str``) -> the
front end writes. ``write_report`` is that last step for files (Markdown gets PNG plots beside it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from perfop.errors import UsageError

if TYPE_CHECKING:
    from perfop.report.model import ReportData

# format -> module with ``render(data) -> str``; imported on use so the CLI starts fast.
RENDERERS: dict[str, str] = {
    "md": "perfop.report.markdown",
    "html": "perfop.report.html",
    "json": "perfop.report.jsonfmt",
}
EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def renderer(fmt: str) -> Callable[[ReportData], str]:
    """The ``render`` function of format ``fmt`` (md, html, json)."""
    if fmt not in RENDERERS:
        raise UsageError(f"--format {fmt}: unknown report format; use one of: md, html, json")
    render: Callable[[ReportData], str] = importlib.import_module(RENDERERS[fmt]).render
    return render


def pick_format(fmt: str | None, output: Path | None) -> str:
    """``--format`` wins; otherwise the output file's extension; otherwise Markdown."""
    if fmt:
        fmt = fmt.lower()
        if fmt == "markdown":
            fmt = "md"
        renderer(fmt)  # validates
        return fmt
    if output is not None:
        ext = output.suffix.lower()
        if ext in EXTENSIONS:
            return EXTENSIONS[ext]
        raise UsageError(
            f"-o {output}: cannot tell the format from {ext or 'no extension'!r}; "
            "use .md, .html or .json, or give --format"
        )
    return "md"


def render(data: ReportData, fmt: str) -> str:
    return renderer(fmt)(data)


def write_report(data: ReportData, path: Path, fmt: str) -> list[Path]:
    """Write the report to ``path`` (Markdown: PNG plots in ``<stem>-plots/`` beside it).

    Returns every file written, the report first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if fmt == "md":
        from perfop.report.markdown import render as render_md
        from perfop.report.plots import iter_plots

        plot_dir = path.parent / f"{path.stem}-plots"
        links: dict[str, str] = {}
        for plot in iter_plots(data, "png"):
            plot_dir.mkdir(exist_ok=True)
            target = plot_dir / f"{plot.key}.png"
            target.write_bytes(plot.content)
            links[plot.key] = f"{plot_dir.name}/{target.name}"
            written.append(target)
        text = render_md(data, links)
    else:
        text = render(data, fmt)
    path.write_text(text, encoding="utf-8")
    return [path, *written]


__all__ = ["EXTENSIONS", "RENDERERS", "pick_format", "render", "renderer", "write_report"]
