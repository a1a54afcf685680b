"""Tables for ``perfop run`` and ``perfop runs``: Rich renderables built from plain records."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import RenderableType

    from perfop.measure.service import WorkloadRun
    from perfop.model import Failure
    from perfop.store import RunRecord


def _cv(cv: float) -> str:
    return "-" if cv != cv else f"{cv * 100:.1f}%"


_RUN_COLUMNS = ("metric", "n", "median", "mean", "stdev", "CV", "min", "p95", "max", "unit")
_LEFT = {"metric", "unit"}


def _run_title(outcome: WorkloadRun) -> str:
    return (
        f"{outcome.workload} (run {outcome.run_id}, {len(outcome.samples)} samples"
        f"{', ' + str(len(outcome.failures)) + ' failed' if outcome.failures else ''}, "
        f"{outcome.status.value})"
    )


def _run_rows(outcome: WorkloadRun) -> list[tuple[str, ...]]:
    rows = []
    for name, s in outcome.summaries().items():
        magnitude = max(abs(s.median), abs(s.mean))
        scale, label = scale_unit(magnitude, outcome.metric_specs[name].unit)
        rows.append(
            (
                name,
                str(s.n),
                *(f"{v / scale:.4g}" for v in (s.median, s.mean, s.stdev)),
                _cv(s.cv),
                *(f"{v / scale:.4g}" for v in (s.min, s.p95, s.max)),
                label,
            )
        )
    return rows


def _run_notes(outcome: WorkloadRun) -> list[str]:
    """The lines under the table: failures, then why measuring stopped early."""
    notes = failure_lines(outcome.failures)
    if outcome.stopped:
        notes.append(f"  {outcome.stopped}")
    return notes


def run_table(outcome: WorkloadRun) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(title=_run_title(outcome), title_justify="left")
    for col in _RUN_COLUMNS:
        table.add_column(col, justify="left" if col in _LEFT else "right", no_wrap=col == "metric")
    for row in _run_rows(outcome):
        table.add_row(*row)
    parts: list[RenderableType] = [table]
    parts.extend(Text(line) for line in _run_notes(outcome))
    return Group(*parts)


# What Rich prints differently from the string itself, in a cell or a title (markup, emoji
# codes, control characters, characters whose width is not one column, whitespace Rich may
# trim or fold at), and in a line of text (control characters, wide characters).
_NOT_PLAIN_CELL = re.compile(r"[^\x20-\x7e\xb5]|\[|:\S*?:|^\s|\s$|\s\s")
_NOT_PLAIN_LINE = re.compile(r"[^\x20-\x7e\xb5\u2014]")


def plain_run_table(outcome: WorkloadRun, *, width: int) -> str | None:
    """``run_table`` as the text a colourless console ``width`` columns wide prints for it
    (Rich's heavy-head box, cells padded by one space, the title left-justified over the
    table's width), or None when Rich would print something else: a table or a line wider
    than ``width`` (Rich shrinks or folds it), markup or an emoji code in a cell, a control or
    wide character. ``perfop run`` then needs no Rich import when its output is piped."""
    title, rows = _run_title(outcome), _run_rows(outcome)
    notes = _run_notes(outcome)
    cells = [title, *_RUN_COLUMNS, *(c for row in rows for c in row)]
    if any(_NOT_PLAIN_CELL.search(c) for c in cells) or any(
        _NOT_PLAIN_LINE.search(n) or len(n) > width for n in notes
    ):
        return None
    widths = [max(len(r[k]) for r in [_RUN_COLUMNS, *rows]) + 2 for k in range(len(_RUN_COLUMNS))]
    table_width = sum(widths) + len(widths) + 1
    if table_width > width or len(title) > table_width:
        return None

    def line(left: str, fill: str, mid: str, right: str) -> str:
        return left + mid.join(fill * w for w in widths) + right

    def row(cells: Sequence[str], edge: str) -> str:
        padded = (
            c.ljust(w - 2) if name in _LEFT else c.rjust(w - 2)
            for c, w, name in zip(cells, widths, _RUN_COLUMNS, strict=True)
        )
        return edge + edge.join(f" {c} " for c in padded) + edge

    lines = [
        title.ljust(table_width),
        line("┏", "━", "┳", "┓"),
        row(_RUN_COLUMNS, "┃"),
        line("┡", "━", "╇", "┩"),
        *(row(r, "│") for r in rows),
        line("└", "─", "┴", "┘"),
    ]
    return "\n".join([*lines, *notes])


def plain_line(text: str) -> str | None:
    """``text`` as a console prints ``Text(text)`` without wrapping (``soft_wrap``), or None
    when it prints something else (Rich drops or expands control characters)."""
    return None if _CONTROL.search(text) else text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def failure_lines(failures: Sequence[Failure]) -> list[str]:
    """One line per run of consecutive failures with the same reason and last stderr line."""
    groups: list[tuple[int, int, str]] = []
    for f in failures:
        tail = (f.stderr_tail.strip().splitlines()[-1:] or [""])[0][:160]
        text = f.reason + (f": {tail}" if tail else "")
        if groups and groups[-1][2] == text and groups[-1][1] == f.index - 1:
            groups[-1] = (groups[-1][0], f.index, text)
        else:
            groups.append((f.index, f.index, text))
    return [
        f"  failed sample {first}: {text}"
        if first == last
        else f"  failed samples {first}-{last} ({last - first + 1}): {text}"
        for first, last, text in groups
    ]


def scale_unit(median: float, unit: str) -> tuple[float, str]:
    """A common scale for a column of values: seconds to ms/µs/ns, bytes to KiB/MiB/GiB."""
    steps = {
        "s": ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs"), (1e-9, "ns")),
        "B": ((2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1.0, "B")),
    }.get(unit)
    if not steps:
        return 1.0, unit
    for scale, label in steps:
        if abs(median) >= scale:
            return scale, label
    return steps[-1]


RUNS_COLUMNS = ("id", "workload", "kind", "status", "ref", "sha", "samples", "failed", "started")


def runs_table(records: Sequence[RunRecord]) -> RenderableType:
    """The runs as aligned plain columns: thousands of rows print in milliseconds (a Rich
    table spent ~5 ms a row measuring and wrapping cells)."""
    from rich.text import Text

    return Text(format_runs(records), no_wrap=True, overflow="ignore")


# What a Rich Text would not print as it stands (it drops or expands control characters).
_NOT_PLAIN = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def plain_runs(records: Sequence[RunRecord], *, width: int) -> str | None:
    """``runs_table`` as the text a console ``width`` columns wide prints for it, or None when
    it would print something else (then print ``runs_table``): a line longer than ``width``
    (Rich folds it) or a control character (Rich drops or expands it). ``perfop runs list``
    then needs no Rich import."""
    text = format_runs(records)
    if _NOT_PLAIN.search(text) or max(map(len, text.splitlines())) > width:
        return None
    return text


def format_runs(records: Sequence[RunRecord]) -> str:
    rows = [RUNS_COLUMNS] + [
        (
            str(r.id),
            r.workload,
            r.kind,
            r.status,
            r.ref or "-",
            (r.sha or "-")[:10] + ("+" if r.dirty else ""),
            str(r.n_samples),
            str(r.n_failures),
            r.started_at[:19].replace("T", " "),
        )
        for r in records
    ]
    widths = [max(len(row[k]) for row in rows) for k in range(len(RUNS_COLUMNS))]
    right = {0, 6, 7}  # numbers
    lines = [
        "  ".join(
            cell.rjust(w) if k in right else cell.ljust(w)
            for k, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]
    if not records:
        lines.append("(no runs yet)")
    return "\n".join(lines)
