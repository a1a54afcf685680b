"""Hand-off reports: ``ReportData`` (collected from the store) rendered to Markdown, HTML or JSON.

Pipeline: ``data.collect`` (the only part that reads) -> ``content`` (pure: summary sentences,
risks, rollback, changelog) -> a renderer from ``RENDERERS`` (``render(data) -> str``) -> the
front end writes. ``write_report`` is that last step for files (Markdown gets PNG plots beside it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from perfop.errors import UsageError
from perfop.registry import Registry

if TYPE_CHECKING:
    from perfop.report.files import Target
    from perfop.report.model import ReportData

# format -> its ``render(data) -> str``; each module is imported on use so the CLI starts fast.
RENDERERS: Registry[Callable[[ReportData], str]] = Registry(
    "report formats",
    {
        "md": "perfop.report.markdown:render",
        "html": "perfop.report.html:render",
        "json": "perfop.report.jsonfmt:render",
    },
)
EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json"}


def renderer(fmt: str) -> Callable[[ReportData], str]:
    """The ``render`` function of format ``fmt`` (md, html, json)."""
    if fmt not in RENDERERS:
        raise UsageError(f"--format {fmt}: unknown report format; use one of: md, html, json")
    return RENDERERS[fmt]


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


def write_report(data: ReportData, path: Path | Target, fmt: str) -> list[Path]:
    """Write the report to ``path`` (Markdown: PNG plots in ``<stem>-plots/`` beside it).

    Never replaces a file perfop did not write (unless the target says ``force``), checks every
    file before writing the first, and writes each atomically (``report.files``). Returns every
    file written, the report first.
    """
    from perfop.report.files import (
        MANIFEST,
        atomic_write,
        check_parent,
        check_plot_folder,
        check_replaceable,
        make_folder,
        marked,
        read_manifest,
        written_by_perfop,
    )
    from perfop.report.files import Target as _Target

    target = path if isinstance(path, _Target) else _Target.cli(path)
    out = target.path
    make_parent = check_parent(target)
    check_replaceable(target, out, owned=written_by_perfop(out))
    plots: list[tuple[Path, bytes]] = []
    plot_dir = out.parent / f"{out.stem}-plots"
    if fmt == "md":
        from perfop.report.markdown import render as render_md
        from perfop.report.plots import iter_plots

        links: dict[str, str] = {}
        for plot in iter_plots(data, "png"):
            name = f"{plot.key}.png"
            plots.append((plot_dir / name, plot.content))
            links[plot.key] = f"{plot_dir.name}/{name}"
        check_plot_folder(target, plot_dir, [p.name for p, _ in plots])
        text = render_md(data, links)
    else:
        text = render(data, fmt)
    if fmt in ("md", "html"):
        text = marked(text)
    created: list[Path] = []
    made_dir = False
    try:
        if make_parent:
            make_folder(target, out.parent, parents=True)
        if plots:
            if not plot_dir.exists():
                make_folder(target, plot_dir)
                made_dir = True
            names = read_manifest(plot_dir) | {p.name for p, _ in plots}
            manifest = plot_dir / MANIFEST
            existed = manifest.exists()
            atomic_write(target, manifest, "".join(f"{n}\n" for n in sorted(names)).encode())
            if not existed:
                created.append(manifest)
            for file, content in plots:
                existed = file.exists()
                atomic_write(target, file, content)
                if not existed:
                    created.append(file)
        atomic_write(target, out, text.encode("utf-8"))
    except UsageError:
        for file in created:
            file.unlink(missing_ok=True)
        if made_dir:
            with contextlib.suppress(OSError):
                plot_dir.rmdir()
        raise
    return [out, *(p for p, _ in plots)]


__all__ = ["EXTENSIONS", "RENDERERS", "pick_format", "render", "renderer", "write_report"]
