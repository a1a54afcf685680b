"""Report plots with matplotlib (Agg, imported lazily): SVG for HTML, PNG files beside Markdown.

Three kinds, each keyed so renderers can place them:
  ``paired-<validation id>``  per workload of one validation, the paired samples base vs candidate
  ``forest``                  ratios candidate/base with their CIs across hypotheses and workloads
  ``history-<workload>``      the workload's baseline medians over time (when there are >= 2 runs)

Every label is user text: math-text parsing is off and the SVG writer escapes it, so a workload
called ``<script>`` is drawn as those characters.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from perfop.report.content import forest_rows, paired_plot_targets
from perfop.report.model import History, ReportData, ValidationResult

PlotFormat = Literal["svg", "png"]
_COLORS = {
    "faster": "#1a7f37",
    "slower": "#cf222e",
    "unchanged": "#57606a",
    "inconclusive": "#9a6700",
}
_BASE, _CAND = "#57606a", "#0969da"


@dataclass(frozen=True)
class Plot:
    key: str
    title: str
    alt: str
    content: bytes  # SVG (UTF-8) or PNG


def _scale(values: Sequence[float], unit: str) -> tuple[float, str]:
    if unit != "s" or not values:
        return 1.0, unit
    big = max(abs(v) for v in values)
    for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if big >= scale:
            return scale, suffix
    return 1e-9, "ns"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "text.parse_math": False,
            "svg.fonttype": "none",
            "svg.hashsalt": "perfop",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            # A fixed title position: the automatic one measures every tick label's box first
            # (a third of the drawing time); nothing is drawn above the axes here.
            "axes.titley": 1.0,
        }
    )
    return plt


def _save(fig: Any, fmt: PlotFormat) -> bytes:
    buf = io.BytesIO()
    if fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        # zlib level 1: plots of flat colours compress in far less time, files ~1-15% larger
        fig.savefig(
            buf,
            format="png",
            dpi=100,
            metadata={"Software": None},
            pil_kwargs={"compress_level": 1},
        )
    # Closed, not cleared first: Figure.clf() clears every axes (rebuilding its ticks) before
    # removing it, a tenth of the PNG report's time; closing drops the figure all the same.
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def paired_plot(v: ValidationResult, fmt: PlotFormat) -> Plot | None:
    plt = _pyplot()
    from matplotlib.collections import LineCollection

    workloads = [w for w in v.workloads if w.base_values and w.candidate_values]
    if not workloads:
        return None
    n = len(workloads)
    fig, axes = plt.subplots(1, n, figsize=(min(max(3.2 * n, 4.4), 12), 3.2), squeeze=False)
    for ax, w in zip(axes[0], workloads, strict=True):
        scale, unit = _scale([*w.base_values, *w.candidate_values], w.unit)
        b = [x / scale for x in w.base_values]
        c = [x / scale for x in w.candidate_values]
        pairs = [((0, yb), (1, yc)) for yb, yc in zip(b, c, strict=False)]
        ax.add_collection(LineCollection(pairs, colors="#d0d7de", linewidths=0.8, zorder=1))
        ax.scatter([0] * len(b), b, s=12, color=_BASE, zorder=2, label="base")
        ax.scatter([1] * len(c), c, s=12, color=_CAND, zorder=2, label="candidate")
        ax.set_xticks([0, 1], ["base", "candidate"])
        ax.set_xlim(-0.4, 1.4)
        ax.set_ylabel(f"{w.primary_metric} ({unit})")
        ax.set_title(
            f"{_short(w.workload, 24)}: {w.verdict}", color=_COLORS.get(w.verdict, "#24292f")
        )
        ax.set_ylim(bottom=0.0)
    fig.suptitle(
        f"{v.hypothesis} paired samples: base {v.base_sha[:7]}, candidate {v.candidate_sha[:7]}"
    )
    # Fixed margins: a layout engine would draw the figure several times to measure it.
    fig.subplots_adjust(
        left=0.72 / fig.get_figwidth(), right=0.97, bottom=0.12, top=0.8, wspace=0.45
    )
    alt = "; ".join(
        f"{w.workload}: {len(w.base_values)} paired samples, verdict {w.verdict}" for w in workloads
    )
    return Plot(f"paired-{v.id}", f"{v.hypothesis} paired samples", alt, _save(fig, fmt))


def forest_plot(data: ReportData, fmt: PlotFormat) -> Plot | None:
    rows = forest_rows(data)
    if not rows:
        return None
    plt = _pyplot()
    height = 1.2 + 0.3 * len(rows)
    fig, ax = plt.subplots(figsize=(7.5, height))
    longest = max(len(label) for label, _ in rows)
    fig.subplots_adjust(
        left=min(0.45, (0.25 + 0.075 * min(longest, 40)) / 7.5),
        right=0.97,
        bottom=0.75 / height,
        top=1 - 0.4 / height,
    )
    labels, ys, los, his, ratios, colors = [], [], [], [], [], []
    for i, (label, w) in enumerate(reversed(rows)):
        pm = w.primary
        assert pm is not None and pm.ratio is not None
        colors.append(_COLORS.get(w.verdict, "#24292f"))
        los.append(pm.ci_low if pm.ci_low is not None else pm.ratio)
        his.append(pm.ci_high if pm.ci_high is not None else pm.ratio)
        ratios.append(pm.ratio)
        ys.append(i)
        labels.append(_short(label, 40))
    # One collection for the intervals and one for the points, not two artists per row.
    ax.hlines(ys, los, his, colors=colors, linewidth=2, zorder=2)
    ax.scatter(ratios, ys, s=25, c=colors, zorder=3)
    threshold = data.settings.threshold
    ax.axvspan(1 / (1 + threshold), 1 + threshold, color="#eaeef2", zorder=0)
    ax.axvline(1.0, color="#8c959f", linewidth=1)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter

    lows = [
        min(w.primary.ci_low or w.primary.ratio, 1 / (1 + threshold))
        for _, w in rows
        if w.primary and w.primary.ratio
    ]
    highs = [
        max(w.primary.ci_high or w.primary.ratio, 1 + threshold)
        for _, w in rows
        if w.primary and w.primary.ratio
    ]
    lo_x, hi_x = min(lows) / 1.15, max(highs) * 1.15
    ax.set_xlim(lo_x, hi_x)
    coarse = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    fine = [0.5, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0]
    candidates = coarse if hi_x / lo_x > 4 else fine
    ax.set_xticks([t for t in candidates if lo_x <= t <= hi_x])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("ratio candidate/base (log scale; < 1 is lower); band: +/- threshold")
    ax.set_title("Ratios with confidence intervals")
    alt = "; ".join(
        f"{label}: ratio {w.primary.ratio:.3f} {w.verdict}" for label, w in rows if w.primary
    )
    return Plot("forest", "Forest plot of ratios", alt, _save(fig, fmt))


def history_plot(h: History, fmt: PlotFormat) -> Plot:
    plt = _pyplot()
    values = [p.value for p in h.points]
    scale, unit = _scale(values, h.unit)
    fig, ax = plt.subplots(figsize=(6.0, 2.4))
    xs = list(range(len(values)))
    ax.plot(xs, [v / scale for v in values], "o-", color=_CAND, markersize=4)
    ax.set_xticks(xs, [(p.sha or "?")[:7] for p in h.points], rotation=45, ha="right")
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.3, top=0.88)
    ax.set_ylabel(f"median {h.metric} ({unit})")
    ax.set_ylim(bottom=0)
    ax.set_title(f"{h.workload}: history of measured runs")
    alt = (
        f"{h.workload}: {len(values)} runs, median from {values[0]:.4g} "
        f"to {values[-1]:.4g} {h.unit}"
    )
    return Plot(f"history-{_slug(h.workload)}", f"{h.workload} history", alt, _save(fig, fmt))


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60] or "workload"


def iter_plots(data: ReportData, fmt: PlotFormat) -> Iterator[Plot]:
    """Every plot of the report, in the order the report shows them."""
    for v in paired_plot_targets(data):
        p = paired_plot(v, fmt)
        if p is not None:
            yield p
    forest = forest_plot(data, fmt)
    if forest is not None:
        yield forest
    for h in data.history:
        if len(h.points) >= 2 and all(math.isfinite(p.value) for p in h.points):
            yield history_plot(h, fmt)


def svg_fragment(svg: bytes) -> str:
    """An SVG document as an element to inline in HTML (no XML prolog or DOCTYPE)."""
    text = svg.decode("utf-8")
    start = text.find("<svg")
    if start < 0:
        return ""
    # matplotlib's RDF metadata block only names namespaces; the page does not need it.
    return re.sub(r"\s*<metadata>.*?</metadata>", "", text[start:], count=1, flags=re.DOTALL)
