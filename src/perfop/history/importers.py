"""``perfop import``: existing benchmark results from other tools become runs in the store.

Formats (detected from the document, not the file name):
  pytest-benchmark  ``--benchmark-json`` (raw rounds when saved with ``--benchmark-save-data``)
  pyperf            JSON written by ``-o`` / ``pyperf.BenchmarkSuite.dump`` (``.json.gz`` too)
  hyperfine         ``--export-json``
  asv               a result file, ``results/<machine>/<commit>-<env>.json`` (format version 2)

Parsing is pure (``parse_document``); ``import_files`` writes one run per benchmark with the
machine information the file recorded as its environment. A file already imported is skipped.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop.errors import UsageError
from perfop.model import MetricSpec

if TYPE_CHECKING:
    from perfop.store import Store

IMPORT_SCHEMA = "perfop.import/1"
FORMATS = ("pytest-benchmark", "pyperf", "hyperfine", "asv")


@dataclass(frozen=True)
class ImportedBenchmark:
    """One benchmark read from a foreign file: samples of one metric and where they came from."""

    tool: str
    name: str
    metric: str
    unit: str
    samples: tuple[float, ...]
    summary_only: bool = False
    stats: dict[str, Any] = field(default_factory=dict)
    command: tuple[str, ...] = ()
    environment: dict[str, Any] = field(default_factory=dict)
    sha: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    committed_at: str | None = None
    recorded_at: str | None = None


@dataclass(frozen=True)
class ImportOutcome:
    source: str
    tool: str
    workload: str
    run_id: int | None
    samples: int
    summary_only: bool
    skipped: bool


def read_document(path: Path) -> Any:
    """JSON from ``path`` (gzip-compressed when it starts with the gzip magic)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read it ({exc.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise UsageError(f"{path}: not a valid gzip file ({exc})") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not JSON ({exc}); give a benchmark result file") from None


def detect_format(doc: Any) -> str | None:
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("benchmarks"), list) and "machine_info" in doc:
        return "pytest-benchmark"
    if isinstance(doc.get("benchmarks"), list) and "version" in doc:
        return "pyperf"
    results = doc.get("results")
    if isinstance(results, list) and all(isinstance(r, dict) and "command" in r for r in results):
        return "hyperfine"
    if "commit_hash" in doc and isinstance(results, dict):
        return "asv"
    return None


def parse_document(doc: Any, *, source: str = "<document>") -> list[ImportedBenchmark]:
    fmt = detect_format(doc)
    if fmt is None:
        raise UsageError(
            f"{source}: not a result file perfop can import; expected one of {', '.join(FORMATS)}"
        )
    try:
        return _PARSERS[fmt](doc)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise UsageError(f"{source}: malformed {fmt} file ({type(exc).__name__}: {exc})") from None


# -- pytest-benchmark ----------------------------------------------------------------------------


def _pytest_benchmark(doc: dict[str, Any]) -> list[ImportedBenchmark]:
    commit = doc.get("commit_info") or {}
    sha = commit.get("id") if commit.get("id") not in (None, "unversioned") else None
    env = {"machine_info": doc.get("machine_info") or {}, "tool_version": doc.get("version")}
    out = []
    for bench in doc["benchmarks"]:
        stats = dict(bench["stats"])
        data = stats.pop("data", None)
        samples = tuple(float(v) for v in data) if data else (float(stats["median"]),)
        out.append(
            ImportedBenchmark(
                tool="pytest-benchmark",
                name=str(bench.get("fullname") or bench["name"]),
                metric="wall_time",
                unit="s",
                samples=samples,
                summary_only=not data,
                stats=stats,
                environment=env,
                sha=sha,
                branch=commit.get("branch") if commit.get("branch") != "(unknown)" else None,
                dirty=commit.get("dirty"),
                committed_at=commit.get("time"),
                recorded_at=doc.get("datetime"),
            )
        )
    return out


# -- pyperf --------------------------------------------------------------------------------------

_PYPERF_UNITS = {"second": ("wall_time", "s"), "byte": ("memory", "B"), "integer": ("value", "")}


def _pyperf(doc: dict[str, Any]) -> list[ImportedBenchmark]:
    common = dict(doc.get("metadata") or {})
    out = []
    for bench in doc["benchmarks"]:
        meta = {**common, **(bench.get("metadata") or {})}
        values: list[float] = []
        for run in bench.get("runs") or []:
            meta_run = run.get("metadata") or {}
            if meta_run.get("calibrate_loops") or meta_run.get("recalibrate_loops"):
                continue
            values.extend(float(v) for v in run.get("values") or [])
        metric, unit = _PYPERF_UNITS.get(str(meta.get("unit", "second")), ("value", ""))
        environment = {
            k: meta[k]
            for k in (
                "hostname",
                "cpu_model_name",
                "cpu_count",
                "cpu_config",
                "cpu_freq",
                "platform",
                "python_implementation",
                "python_version",
                "python_executable",
                "perf_version",
                "aslr",
                "boot_time",
                "python_compiler",
            )
            if k in meta
        }
        out.append(
            ImportedBenchmark(
                tool="pyperf",
                name=str(meta.get("name") or "pyperf"),
                metric=metric,
                unit=unit,
                samples=tuple(values),
                stats={"loops": meta.get("loops"), "inner_loops": meta.get("inner_loops")},
                command=tuple(str(meta["command"]).split()) if meta.get("command") else (),
                environment=environment,
                recorded_at=meta.get("date"),
            )
        )
    return out


# -- hyperfine -----------------------------------------------------------------------------------


def _hyperfine(doc: dict[str, Any]) -> list[ImportedBenchmark]:
    out = []
    for result in doc["results"]:
        times = [float(t) for t in result.get("times") or []]
        codes = result.get("exit_codes") or [0] * len(times)
        kept = tuple(t for t, code in zip(times, codes, strict=False) if code == 0)
        summary_only = not times
        if summary_only:
            kept = (float(result["median"] if "median" in result else result["mean"]),)
        name = str(result["command"])
        if result.get("parameters"):
            params = ",".join(f"{k}={v}" for k, v in sorted(result["parameters"].items()))
            name = f"{name} [{params}]"
        stats = {
            k: result.get(k) for k in ("mean", "stddev", "median", "user", "system", "min", "max")
        }
        stats["failed_runs"] = sum(1 for code in codes if code != 0)
        out.append(
            ImportedBenchmark(
                tool="hyperfine",
                name=name,
                metric="wall_time",
                unit="s",
                samples=kept,
                summary_only=summary_only,
                stats=stats,
                command=(str(result["command"]),),
            )
        )
    return out


# -- asv -----------------------------------------------------------------------------------------

_ASV_METRICS = {
    "time": ("wall_time", "s"),
    "peakmem": ("peak_rss", "B"),
    "mem": ("memory", "B"),
    "track": ("value", ""),
}


def _asv(doc: dict[str, Any]) -> list[ImportedBenchmark]:
    if int(doc.get("version", 1)) < 2:
        raise ValueError("asv result format version 1 is not supported; re-run asv >= 0.5")
    columns: list[str] = list(doc["result_columns"])
    environment = {
        "machine": dict(doc.get("params") or {}),
        "python": doc.get("python"),
        "env_name": doc.get("env_name"),
        "requirements": doc.get("requirements") or {},
    }
    out = []
    for name, row in sorted(doc["results"].items()):
        entry = dict(zip(columns, row, strict=False))
        results = entry.get("result")
        if results is None:
            continue  # benchmark failed or was skipped in this asv run
        params: list[list[str]] = entry.get("params") or []
        combos = [", ".join(c) for c in itertools.product(*params)] if params else [""]
        samples_all = entry.get("samples") or [None] * len(combos)
        kind = name.rsplit(".", 1)[-1].split("_", 1)[0]
        metric, unit = _ASV_METRICS.get(kind, ("value", ""))
        for i, combo in enumerate(combos):
            value = results[i]
            if value is None or (isinstance(value, float) and value != value):
                continue  # NaN / None: this parameter combination failed or was skipped
            raw = samples_all[i] if i < len(samples_all) else None
            stats = {
                col.removeprefix("stats_"): (entry[col][i] if entry.get(col) else None)
                for col in columns
                if col.startswith("stats_")
            }
            out.append(
                ImportedBenchmark(
                    tool="asv",
                    name=f"{name}({combo})" if combo else name,
                    metric=metric,
                    unit=unit,
                    samples=tuple(float(v) for v in raw) if raw else (float(value),),
                    summary_only=not raw,
                    stats={"result": value, **stats},
                    environment=environment,
                    sha=doc.get("commit_hash"),
                    recorded_at=str(doc.get("date")) if doc.get("date") else None,
                )
            )
    return out


_PARSERS = {
    "pytest-benchmark": _pytest_benchmark,
    "pyperf": _pyperf,
    "hyperfine": _hyperfine,
    "asv": _asv,
}


# -- into the store ------------------------------------------------------------------------------

# What the store's indexed and bounded columns hold: a workload name is indexed (PostgreSQL's
# b-tree refuses an entry over ~2.7 kB), a sha is varchar(64), a commit time varchar(40).
MAX_SHA = 64
MAX_TIME = 40


def check_record(
    where: str, *, workload: object, sha: object = None, committed_at: object = None
) -> None:
    """UsageError (one line naming ``where``) unless the fields fit the store's columns.

    Imported files come from elsewhere (another tool, another machine, a data branch): checked
    before anything is stored, so a bad file imports nothing on SQLite and PostgreSQL alike.
    """
    from perfop.config import MAX_NAME

    if not isinstance(workload, str) or not workload.strip():
        raise UsageError(f"{where}: the benchmark has no name; give it one in the file")
    if len(workload) > MAX_NAME:
        raise UsageError(
            f"{where}: benchmark name {workload[:40]!r}... is {len(workload)} characters, at "
            f"most {MAX_NAME} (workload names are indexed); shorten it in the file (hyperfine: "
            "--command-name) or use a shorter --prefix"
        )
    if sha is not None and (
        not isinstance(sha, str) or not 0 < len(sha) <= MAX_SHA or not sha.isalnum()
    ):
        shown = repr(sha)[:40]
        raise UsageError(
            f"{where}: commit {shown} of {workload[:40]!r} is not a commit id (letters and "
            f"digits, at most {MAX_SHA}); fix or remove it in the file"
        )
    if committed_at is not None and (
        not isinstance(committed_at, str) or len(committed_at) > MAX_TIME
    ):
        raise UsageError(
            f"{where}: commit time {repr(committed_at)[:40]} of {workload[:40]!r} is not a "
            f"timestamp of at most {MAX_TIME} characters; fix or remove it in the file"
        )


def import_files(store: Store, paths: Sequence[Path], *, prefix: str = "") -> list[ImportOutcome]:
    """Parse every file first (so a bad file imports nothing), then store one run per benchmark."""
    from perfop.store import history as h

    parsed: list[tuple[Path, str, list[ImportedBenchmark]]] = []
    for path in paths:
        doc = read_document(path)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
        benches = parse_document(doc, source=str(path))
        for bench in benches:
            check_record(
                str(path),
                workload=f"{prefix}{bench.name}",
                sha=bench.sha,
                committed_at=bench.committed_at,
            )
        parsed.append((path, digest, benches))
    seen = h.imported_keys(store)
    outcomes: list[ImportOutcome] = []
    for path, digest, benches in parsed:
        for bench in benches:
            workload = f"{prefix}{bench.name}"
            if (digest, workload) in seen:
                outcomes.append(
                    ImportOutcome(
                        str(path),
                        bench.tool,
                        workload,
                        None,
                        len(bench.samples),
                        bench.summary_only,
                        skipped=True,
                    )
                )
                continue
            env_id = None
            if bench.environment:
                env_id = store.add_environment(
                    {"imported": True, "tool": bench.tool, **bench.environment}
                )
            if bench.sha:
                h.save_commit(
                    store, h.CommitInfo(bench.sha, bench.committed_at, bench.branch, None)
                )
            settings = {
                "import": {
                    "tool": bench.tool,
                    "file": path.name,
                    "digest": digest,
                    "summary_only": bench.summary_only,
                    "recorded_at": bench.recorded_at,
                },
                "stats": bench.stats,
            }
            run_id = h.insert_imported_run(
                store,
                workload=workload,
                argv=list(bench.command),
                samples=[{bench.metric: v} for v in bench.samples],
                settings=settings,
                metric_specs={bench.metric: MetricSpec(bench.metric, bench.unit, "lower")},
                environment_id=env_id,
                sha=bench.sha,
                ref=bench.branch,
                dirty=bench.dirty,
            )
            outcomes.append(
                ImportOutcome(
                    str(path),
                    bench.tool,
                    workload,
                    run_id,
                    len(bench.samples),
                    bench.summary_only,
                    skipped=False,
                )
            )
    return outcomes


def import_document(outcomes: Sequence[ImportOutcome]) -> dict[str, Any]:
    return {"schema": IMPORT_SCHEMA, "imported": [vars(o) for o in outcomes]}


def format_import(outcomes: Sequence[ImportOutcome]) -> str:
    lines = []
    for o in outcomes:
        if o.skipped:
            lines.append(f"skipped  {o.workload}  (already imported from {o.source})")
            continue
        note = " (summary only: the file kept no raw samples)" if o.summary_only else ""
        lines.append(f"run {o.run_id}  {o.tool}  {o.workload}  {o.samples} samples{note}")
    imported = sum(1 for o in outcomes if not o.skipped)
    lines.append(f"imported {imported} run(s), skipped {len(outcomes) - imported}")
    return "\n".join(lines) + "\n"
