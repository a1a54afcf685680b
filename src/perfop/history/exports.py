"""``perfop export``: a stored run or comparison in formats other tools read.

``collect_run`` / ``collect_comparison`` read the store into an ``Export`` (one ``Series`` of
sample values per metric and side); ``render`` turns it into text: perfop's own JSON, CSV (one
row per sample), hyperfine's ``--export-json`` schema, pyperf's JSON (one pyperf run per perfop
sample; ``pyperf.BenchmarkSuite.load`` reads it), Bencher Metric Format, github-action-benchmark's
``customSmallerIsBetter`` list, and OpenMetrics text. Rendering is pure; the CLI writes.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfop import __version__
from perfop.errors import UsageError
from perfop.model import BUILTIN_METRICS

if TYPE_CHECKING:
    from perfop.store import Store

EXPORT_SCHEMA = "perfop.export/1"
FORMATS = ("json", "csv", "hyperfine", "pyperf", "bmf", "gab", "openmetrics")


@dataclass(frozen=True)
class Series:
    """The samples of one metric of one run (one side of a comparison)."""

    workload: str
    metric: str
    unit: str
    better: str
    run_id: int
    side: str  # "" for a run, "base" / "candidate" in a comparison
    ref: str
    sha: str
    values: tuple[float, ...]

    @property
    def label(self) -> str:
        name = self.workload if self.metric == "wall_time" else f"{self.workload}::{self.metric}"
        return f"{name} [{self.side}]" if self.side else name


@dataclass(frozen=True)
class Export:
    kind: str  # "run" | "comparison"
    id: int
    series: tuple[Series, ...]
    comparison: dict[str, Any] | None = None  # the stored comparison document


def parse_target(text: str) -> tuple[str, int]:
    """``N`` or ``run:N`` -> ("run", N); ``comparison:N`` or ``cN`` -> ("comparison", N)."""
    m = re.fullmatch(r"(?:(run|comparison):|(c))?(\d{1,18})", text.strip())
    if m is None:
        raise UsageError(
            f"export: {text!r} is not a run or comparison; give a run id (12 or run:12) or a "
            "comparison id (comparison:3 or c3)"
        )
    kind = "comparison" if (m.group(1) == "comparison" or m.group(2)) else "run"
    return kind, int(m.group(3))


def _run_series(store: Store, run_id: int, side: str) -> list[Series]:
    run = store.get_run(run_id)
    out = []
    for name, spec in run.metric_specs.items():
        values = tuple(run.values(name))
        if not values:
            continue
        out.append(
            Series(
                workload=run.workload,
                metric=name,
                unit=spec.unit,
                better=spec.better,
                run_id=run.id,
                side=side,
                ref=run.ref or "",
                sha=run.sha or "",
                values=values,
            )
        )
    return out


def collect_run(store: Store, run_id: int) -> Export:
    from perfop.errors import PerfopError

    try:
        series = _run_series(store, run_id, "")
    except (KeyError, LookupError, PerfopError):
        raise UsageError(f"export: no run {run_id}; see perfop runs list") from None
    return Export("run", run_id, tuple(series))


def collect_comparison(store: Store, comparison_id: int) -> Export:
    from perfop.store import compare as cstore

    row = cstore.get_comparison(store, comparison_id)
    if row is None or not row.get("document"):
        raise UsageError(f"export: no finished comparison {comparison_id}")
    doc = dict(row["document"])
    series: list[Series] = []
    for w in doc.get("workloads") or []:
        for side in ("base", "candidate"):
            run_id = (w.get("runs") or {}).get(side)
            if run_id is not None:
                series.extend(_run_series(store, int(run_id), side))
    return Export("comparison", comparison_id, tuple(series), doc)


# --- renderers ----------------------------------------------------------------------------------


def _median(values: tuple[float, ...]) -> float:
    return float(statistics.median(values))


def _stdev(values: tuple[float, ...]) -> float:
    return float(statistics.stdev(values)) if len(values) > 1 else 0.0


def format_json(ex: Export) -> str:
    doc = {
        "schema": EXPORT_SCHEMA,
        "perfop_version": __version__,
        "kind": ex.kind,
        "id": ex.id,
        "series": [
            {
                "workload": s.workload,
                "metric": s.metric,
                "unit": s.unit,
                "better": s.better,
                "run": s.run_id,
                "side": s.side or None,
                "ref": s.ref,
                "sha": s.sha,
                "values": list(s.values),
            }
            for s in ex.series
        ],
        "comparison": ex.comparison,
    }
    return json.dumps(doc, indent=2) + "\n"


def format_csv(ex: Export) -> str:
    """One row per sample and metric."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["workload", "side", "run", "ref", "sha", "sample", "metric", "unit", "value"])
    for s in ex.series:
        for i, v in enumerate(s.values):
            w.writerow([s.workload, s.side, s.run_id, s.ref, s.sha, i, s.metric, s.unit, repr(v)])
    return buf.getvalue()


def _timed(ex: Export) -> list[Series]:
    """Series in seconds: wall time of every run, and benchmarks (a suite's metrics) in s."""
    return [
        s
        for s in ex.series
        if s.unit == "s" and (s.metric == "wall_time" or s.metric not in BUILTIN_METRICS)
    ]


def format_hyperfine(ex: Export) -> str:
    """hyperfine's ``--export-json`` schema: one result per run (and per timed benchmark)."""
    by_run = {(s.run_id, s.metric): s for s in ex.series}
    results = []
    for s in _timed(ex):
        user = by_run.get((s.run_id, "user_time")) if s.metric == "wall_time" else None
        sys_ = by_run.get((s.run_id, "sys_time")) if s.metric == "wall_time" else None
        results.append(
            {
                "command": s.label,
                "mean": statistics.fmean(s.values),
                "stddev": _stdev(s.values) if len(s.values) > 1 else None,
                "median": _median(s.values),
                "user": statistics.fmean(user.values) if user else 0.0,
                "system": statistics.fmean(sys_.values) if sys_ else 0.0,
                "min": min(s.values),
                "max": max(s.values),
                "times": list(s.values),
                "exit_codes": [0] * len(s.values),
            }
        )
    return json.dumps({"results": results}, indent=2) + "\n"


_PYPERF_UNITS = {"s": "second", "B": "byte"}


def format_pyperf(ex: Export) -> str:
    """pyperf's JSON (version 1.0): a benchmark per series, a pyperf run per perfop sample."""
    benchmarks = []
    for s in ex.series:
        unit = _PYPERF_UNITS.get(s.unit)
        if unit is None or s.metric in ("user_time", "sys_time", "cpu_time"):
            continue
        values = [v for v in s.values if v > 0]
        if not values:
            continue
        benchmarks.append(
            {
                "metadata": {"name": s.label, "unit": unit, "loops": 1},
                "runs": [{"metadata": {"perfop_run": s.run_id}, "values": [v]} for v in values],
            }
        )
    doc = {"version": "1.0", "metadata": {"perfop_version": __version__}, "benchmarks": benchmarks}
    return json.dumps(doc, indent=2) + "\n"


def _kept_for_tracking(ex: Export) -> list[Series]:
    """What a history tracker wants: a run's series, or a comparison's candidate side."""
    return [s for s in ex.series if s.side in ("", "candidate")]


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "value"


def format_bmf(ex: Export) -> str:
    """Bencher Metric Format: {benchmark: {measure: {value, lower_value, upper_value}}}; wall
    time and timed benchmarks are Bencher's ``latency`` measure, in nanoseconds."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for s in _kept_for_tracking(ex):
        timed = s.unit == "s" and (s.metric == "wall_time" or s.metric not in BUILTIN_METRICS)
        # A suite's benchmarks (timed metrics of their own) are benchmarks of their own.
        own = timed and s.metric != "wall_time"
        bench = f"{s.workload}::{s.metric}" if own else s.workload
        measure = "latency" if timed else _slug(s.metric)
        scale = 1e9 if timed else 1.0
        out.setdefault(bench, {})[measure] = {
            "value": _median(s.values) * scale,
            "lower_value": min(s.values) * scale,
            "upper_value": max(s.values) * scale,
        }
    return json.dumps(out, indent=2) + "\n"


def format_gab(ex: Export) -> str:
    """github-action-benchmark's ``customSmallerIsBetter`` list (metrics where lower is better)."""
    rows = []
    for s in _kept_for_tracking(ex):
        if s.better != "lower" or s.metric in ("user_time", "sys_time"):
            continue
        rows.append(
            {
                "name": s.label if s.metric != "wall_time" else s.workload,
                "unit": s.unit,
                "value": _median(s.values),
                "range": f"± {_stdev(s.values):.6g}",
                "extra": f"median of {len(s.values)} samples, perfop run {s.run_id}",
            }
        )
    return json.dumps(rows, indent=2) + "\n"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**kw: str) -> str:
    return "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in kw.items()) + "}"


def _om_number(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def format_openmetrics(ex: Export) -> str:
    """OpenMetrics text: per series its sample count, median, min and max as gauges; for a
    comparison, each metric's ratio and interval."""
    lines = []
    families: list[tuple[str, str, Callable[[Series], float]]] = [
        ("perfop_samples", "samples measured", lambda s: float(len(s.values))),
        ("perfop_median", "median of the samples", lambda s: _median(s.values)),
        ("perfop_min", "smallest sample", lambda s: min(s.values)),
        ("perfop_max", "largest sample", lambda s: max(s.values)),
    ]
    for name, help_text, fn in families:
        lines += [f"# TYPE {name} gauge", f"# HELP {name} perfop: {help_text}"]
        for s in ex.series:
            labels = _labels(
                workload=s.workload, metric=s.metric, unit=s.unit, side=s.side, run=str(s.run_id)
            )
            lines.append(f"{name}{labels} {_om_number(fn(s))}")
    if ex.comparison is not None:
        from perfop.records.comparison import metric_from_row

        compared = [
            (str(w["name"]), metric_from_row(m))
            for w in ex.comparison.get("workloads") or []
            for m in w.get("metrics") or []
        ]
        for key, help_text in (
            ("ratio", "candidate/base ratio"),
            ("ci_low", "ratio interval, low end"),
            ("ci_high", "ratio interval, high end"),
        ):
            name = f"perfop_comparison_{key}"
            lines += [f"# TYPE {name} gauge", f"# HELP {name} perfop: {help_text}"]
            for workload, metric in compared:
                labels = _labels(
                    workload=workload,
                    metric=metric.name,
                    verdict=metric.verdict.value,
                    comparison=str(ex.id),
                )
                lines.append(f"{name}{labels} {_om_number(getattr(metric.analysis, key))}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[Export], str]] = {
    "json": format_json,
    "csv": format_csv,
    "hyperfine": format_hyperfine,
    "pyperf": format_pyperf,
    "bmf": format_bmf,
    "gab": format_gab,
    "openmetrics": format_openmetrics,
}


def render(ex: Export, fmt: str) -> str:
    try:
        return RENDERERS[fmt](ex)
    except KeyError:
        raise UsageError(
            f"--format: unknown export format {fmt!r}; expected one of: {', '.join(FORMATS)}"
        ) from None
