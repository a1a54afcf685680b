"""``perfop publish``: a static dashboard of every workload's history (GitHub Pages ready).

``collect`` reads the histories through ``perfop.history.service.load_histories`` (one store query
for every series and its per-run summaries); ``render_dashboard`` is pure (histories in, one HTML
page out): inline CSS, one inline SVG chart per workload with its change points marked, the
commits and pull requests that moved each series, no script and no external asset, under the
same Content-Security-Policy as the report. ``write_dashboard`` writes ``DIR/index.html`` and
never replaces a file perfop did not write (the page carries a marker) unless forced.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from perfop.errors import UsageError

# The report's policy (perfop.report.html.CSP; a test keeps the two equal): no script, no fetch.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

if TYPE_CHECKING:
    from perfop.history.service import History
    from perfop.store import Store

MARKER = "<!-- written by perfop publish -->"
_PR = re.compile(r"(?:\(#(\d+)\)\s*$|^Merge pull request #(\d+)\b)")
WIDTH, HEIGHT, PAD = 800, 180, 28


@dataclass(frozen=True)
class DashboardOptions:
    title: str = "perfop: performance over commits"
    repo_url: str | None = None  # e.g. https://github.com/OWNER/NAME: commit and PR links
    generated: str | None = None


def collect(
    store: Store,
    *,
    repo_root: Path | None = None,
    workloads: Sequence[str] = (),
    metric: str = "wall_time",
    statistic: str = "median",
) -> list[History]:
    """The history of every recorded workload (or those named), in name order.

    One query for every workload's series and stored per-run summaries
    (``perfop.history.service.load_histories``): no sample is decoded for a commit measured by one
    run.
    """
    from perfop.history.service import load_histories

    return load_histories(
        store, list(workloads), metric=metric, statistic=statistic, repo_root=repo_root
    )


def synthetic_histories(workloads: int, commits: int, *, seed: int = 1) -> list[History]:
    """Histories of made-up workloads with a few real shifts each (tests and benchmarks/)."""
    import datetime as dt

    import numpy as np

    from perfop.history.changepoint import detect_change_points
    from perfop.history.service import History, HistoryPoint, Shift, _direction

    rng = np.random.default_rng(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out: list[History] = []
    shas = [f"{rng.integers(0, 2**63):016x}{i:024x}" for i in range(commits)]
    for w in range(workloads):
        level = np.full(commits, 0.05 * (1 + w % 7))
        for _ in range(2):
            at = int(rng.integers(commits // 10, commits - commits // 10))
            level[at:] *= 1 + float(rng.choice([-0.25, 0.3]))
        values = level * (1 + 0.01 * rng.standard_normal(commits))
        points = tuple(
            HistoryPoint(
                sha=shas[i],
                committed_at=(start + dt.timedelta(minutes=i)).isoformat(),
                branch="main",
                subject=f"change {i} (#{1000 + i})",
                value=float(v),
                n=5,
                run_ids=(i,),
                dirty=False,
            )
            for i, v in enumerate(values)
        )
        shifts = tuple(
            Shift(
                index=cp.index,
                last_good=shas[cp.index - 1],
                first_bad=shas[cp.index],
                commit_range=f"{shas[cp.index - 1][:12]}..{shas[cp.index][:12]}",
                mean_before=cp.mean_before,
                mean_after=cp.mean_after,
                magnitude=cp.magnitude,
                confidence=cp.confidence,
                pvalue=cp.pvalue,
                direction=_direction(cp.magnitude, "lower"),
            )
            for cp in detect_change_points(values, min_magnitude=0.05)
        )
        name = f"workload-{w:02d}"
        out.append(History(name, "wall_time", "s", "lower", "median", points, shifts))
    return out


def pull_request(subject: str | None) -> int | None:
    """The PR number a commit subject names (squash ``(#12)`` or a merge commit), or None."""
    if not subject:
        return None
    m = _PR.search(subject)
    return int(m.group(1) or m.group(2)) if m else None


def _fmt(value: float, unit: str) -> str:
    """Dashboard cells: µs/ms/s at 0/1/3 decimals (``perfop.render.format_value``: general)."""
    if not math.isfinite(value):
        return "-"
    if unit == "s":
        if abs(value) < 1e-3:
            return f"{value * 1e6:.0f} µs"
        if abs(value) < 1:
            return f"{value * 1e3:.1f} ms"
        return f"{value:.3f} s"
    return f"{value:.4g} {unit}".strip()


def _p(pvalue: float) -> str:
    return "< 0.001" if pvalue < 0.001 else f"{pvalue:.2g}"


def _chart(h: History) -> str:
    values = [p.value for p in h.points]
    lo, hi = min(values), max(values)
    span = (hi - lo) or (abs(hi) or 1.0)
    n = len(values)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * (i / (n - 1) if n > 1 else 0.5)

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - lo) / span

    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{html.escape(h.workload)} over {n} commits">',
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" '
        f'y2="{HEIGHT - PAD}"/>',
        f'<text x="2" y="{PAD - 8}">{html.escape(_fmt(hi, h.unit))}</text>',
        f'<text x="2" y="{HEIGHT - 6}">{html.escape(_fmt(lo, h.unit))}</text>',
    ]
    for s in h.shifts:
        cls = {"regression": "bad", "improvement": "good"}.get(s.direction, "moved")
        sx = (x(s.index - 1) + x(s.index)) / 2
        tip = f"{s.direction} {s.magnitude:+.1%} in {s.commit_range}"
        parts.append(
            f'<line class="cp {cls}" x1="{sx:.1f}" y1="{PAD / 2}" x2="{sx:.1f}" '
            f'y2="{HEIGHT - PAD}"><title>{html.escape(tip)}</title></line>'
        )
    parts.append(f'<polyline class="series" points="{line}"/>')
    if n == 1:
        parts.append(f'<circle class="dot" cx="{x(0):.1f}" cy="{y(values[0]):.1f}" r="3"/>')
    parts.append("</svg>")
    return "".join(parts)


def _commit_link(sha: str, opts: DashboardOptions) -> str:
    short = html.escape(sha[:10])
    if not opts.repo_url:
        return f"<code>{short}</code>"
    url = html.escape(f"{opts.repo_url}/commit/{sha}", quote=True)
    return f'<a href="{url}"><code>{short}</code></a>'


def _pr_link(number: int | None, opts: DashboardOptions) -> str:
    if number is None:
        return ""
    if not opts.repo_url:
        return f" (#{number})"
    url = html.escape(f"{opts.repo_url}/pull/{number}", quote=True)
    return f' (<a href="{url}">#{number}</a>)'


def _section(h: History, anchor: str, opts: DashboardOptions) -> str:
    last, first = h.points[-1], h.points[0]
    change = last.value / first.value - 1 if first.value else math.nan
    head = (
        f'<section id="{anchor}"><h2>{html.escape(h.workload)}</h2>'
        f'<p class="meta">{html.escape(h.statistic)} {html.escape(h.metric)}'
        f" ({html.escape(h.unit)}, {html.escape(h.better)} is better) over "
        f"{len(h.points)} commits; latest {html.escape(_fmt(last.value, h.unit))}"
        f" at {_commit_link(last.sha, opts)}"
        + (f", {change:+.1%} since the first" if math.isfinite(change) else "")
        + "</p>"
    )
    rows = []
    for s in h.shifts:
        point = h.points[s.index]
        subject = html.escape(point.subject or "")
        rows.append(
            f'<li class="{html.escape(s.direction)}"><b>{html.escape(s.direction)}</b> '
            f"{s.magnitude:+.1%} ({html.escape(_fmt(s.mean_before, h.unit))} → "
            f"{html.escape(_fmt(s.mean_after, h.unit))}) at {_commit_link(s.first_bad, opts)}"
            f"{_pr_link(pull_request(point.subject), opts)}: {subject}"
            f' <span class="meta">after {_commit_link(s.last_good, opts)}, '
            f"p {_p(s.pvalue)}</span></li>"
        )
    moved = (
        f'<ul class="shifts">{"".join(rows)}</ul>'
        if rows
        else '<p class="meta">No persistent shift.</p>'
    )
    return f'{head}<div class="chart">{_chart(h)}</div>{moved}</section>'


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:12px;color:#1b1f24}
h1{font-size:1.4em}h2{font-size:1.1em;margin:1.2em 0 .2em;overflow-wrap:anywhere}
.meta{color:#57606a;font-size:.9em}table{border-collapse:collapse;width:100%}
.scroll{overflow-x:auto}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #d0d7de}
td.num{text-align:right;white-space:nowrap}svg{width:100%;height:auto;display:block}
.chart{border:1px solid #d0d7de;border-radius:6px;background:#fff}
svg text{font-size:11px;fill:#57606a}.axis{stroke:#d0d7de}
.series{fill:none;stroke:#0969da;stroke-width:1.5}.dot{fill:#0969da}
.cp{stroke-width:2;stroke-dasharray:4 3}.cp.bad{stroke:#cf222e}.cp.good{stroke:#1a7f37}
.cp.moved{stroke:#9a6700}li.regression b{color:#cf222e}li.improvement b{color:#1a7f37}
ul.shifts{padding-left:1.2em;overflow-wrap:anywhere}code{font-size:.9em}
@media (max-width:600px){body{font-size:14px;padding:8px}.wide{display:none}th,td{padding:3px}}
"""


def render_dashboard(histories: Sequence[History], opts: DashboardOptions) -> str:
    """The dashboard page."""
    anchors = [f"w{i}" for i in range(len(histories))]
    summary = []
    for h, a in zip(histories, anchors, strict=True):
        last = h.points[-1]
        shift = h.shifts[-1] if h.shifts else None
        moved = f"{shift.direction} {shift.magnitude:+.1%}" if shift else "-"
        summary.append(
            f'<tr><td><a href="#{a}">{html.escape(h.workload)}</a></td>'
            f'<td class="num">{html.escape(_fmt(last.value, h.unit))}</td>'
            f'<td class="num wide">{len(h.points)}</td><td class="num">{len(h.shifts)}</td>'
            f"<td>{html.escape(moved)}</td></tr>"
        )
    body = (
        "".join(_section(h, a, opts) for h, a in zip(histories, anchors, strict=True))
        if histories
        else "<p>No recorded history yet: run <code>perfop record</code> on the default branch.</p>"
    )
    generated = f" Generated {html.escape(opts.generated)}." if opts.generated else ""
    return (
        "<!DOCTYPE html>\n"
        f"{MARKER}\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(opts.title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(opts.title)}</h1>"
        f'<p class="meta">{len(histories)} workloads. Dashed lines mark persistent shifts '
        "(change points): red a regression, green an improvement; each is listed with the "
        f"commit and pull request that introduced it.{generated}</p>"
        '<div class="scroll"><table><thead><tr><th>workload</th><th>latest</th>'
        '<th class="wide">commits</th><th>shifts</th><th>last shift</th></tr></thead><tbody>'
        f"{''.join(summary)}</tbody></table></div>{body}</body></html>\n"
    )


def write_dashboard(out_dir: Path, page: str, *, force: bool = False) -> Path:
    """``out_dir/index.html``; an existing file is replaced only if perfop wrote it (or forced)."""
    path = out_dir / "index.html"
    if path.exists() and not force:
        try:
            ours = MARKER in path.read_text(encoding="utf-8", errors="replace")[:200]
        except OSError:
            ours = False
        if not ours:
            raise UsageError(
                f"{path} exists and perfop did not write it; choose another --output or pass "
                "--force"
            )
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--output {out_dir}: not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".index.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
