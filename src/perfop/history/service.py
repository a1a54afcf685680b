"""History of a workload across commits: ``perfop record`` on the main branch, ``perfop history``.

``record`` measures the configured workloads at HEAD (through the same service as ``perfop run``)
and remembers the commit's time and branch. ``load_history`` turns the stored runs of one workload
into a series in commit order (one point per commit: a statistic over all its samples) and finds
the persistent shifts in it with ``perfop.history.changepoint``. ``write_plot`` draws it
(matplotlib, imported only when called).
"""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perfop.errors import UsageError
from perfop.history.changepoint import detect_change_points
from perfop.model import BUILTIN_METRICS
from perfop.records.history import HISTORY_SCHEMA as HISTORY_SCHEMA
from perfop.records.history import History as History
from perfop.records.history import HistoryPoint as HistoryPoint
from perfop.records.history import Shift as Shift
from perfop.stats import STATISTICS

if TYPE_CHECKING:
    from perfop.config import LoadedConfig
    from perfop.measure.service import RunProgress, WorkloadRun
    from perfop.store import Store
    from perfop.store.history import CommitInfo


def _git(repo: Path, *args: str) -> str | None:
    from perfop import git

    try:
        out = git.run(repo, *args, timeout=30, user_env=True)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def head_commit(repo: Path, env: dict[str, str] | None = None) -> CommitInfo:
    """sha, committer time, branch and subject of HEAD (branch from GitHub Actions when set)."""
    from perfop.store.history import CommitInfo

    env = dict(os.environ) if env is None else env
    line = _git(repo, "log", "-1", "--format=%H%x00%cI%x00%s", "HEAD")
    if not line:
        raise UsageError(f"{repo}: no commit at HEAD; perfop record measures a commit, make one")
    sha, committed_at, subject = ([*line.split("\x00"), "", ""])[:3]
    branch = _git(repo, "symbolic-ref", "--short", "-q", "HEAD") or None
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REF_TYPE") == "branch":
        branch = env.get("GITHUB_REF_NAME") or branch  # Actions checks out a detached HEAD
    return CommitInfo(sha=sha, committed_at=committed_at or None, branch=branch, subject=subject)


def record(
    store: Store,
    loaded: LoadedConfig,
    names: Sequence[str] = (),
    *,
    runs: int | None = None,
    progress: RunProgress | None = None,
) -> tuple[CommitInfo, list[WorkloadRun]]:
    """Measure workloads at HEAD and store them as history records of this commit."""
    from perfop.measure.service import run_workloads
    from perfop.store.history import save_commit, set_run_kind

    info = head_commit(loaded.repo_root)
    outcomes = run_workloads(store, loaded, names, runs=runs, progress=progress)
    save_commit(store, info)
    set_run_kind(store, [o.run_id for o in outcomes], "record")
    return info, outcomes


def _commit_times(repo: Path | None, shas: Sequence[str]) -> dict[str, str]:
    """Committer times of ``shas`` known to the repository (others are simply absent)."""
    if repo is None or not shas:
        return {}
    found: dict[str, str] = {}
    for start in range(0, len(shas), 200):
        chunk = shas[start : start + 200]
        out = _git(repo, "show", "-s", "--format=%H %cI", *chunk)
        if out is None:  # one unknown sha fails the batch: fall back to one at a time
            for sha in chunk:
                one = _git(repo, "show", "-s", "--format=%H %cI", sha)
                if one:
                    h, t = one.split(" ", 1)
                    found[h] = t
            continue
        for line in out.splitlines():
            h, _, t = line.partition(" ")
            found[h] = t
    return found


def load_history(
    store: Store,
    workload: str,
    *,
    metric: str = "wall_time",
    statistic: str = "median",
    repo_root: Path | None = None,
    max_pvalue: float = 0.01,
    min_magnitude: float = 0.0,
) -> History:
    """The series of ``workload`` in commit order and its persistent shifts."""
    return load_histories(
        store,
        [workload],
        metric=metric,
        statistic=statistic,
        repo_root=repo_root,
        max_pvalue=max_pvalue,
        min_magnitude=min_magnitude,
    )[0]


def _metric_names(store: Store, by_sha: dict[str, list[Any]], most: int = 12) -> str:
    """The metrics the newest run of a series has (a suite: its benchmarks), for the error."""
    from perfop.store.history import run_metrics_of

    newest = max(i.run.run_id for items in by_sha.values() for i in items)
    names = sorted({n for m in run_metrics_of(store, [newest]).get(newest, []) for n in m})
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return (", ".join(names[:most]) + more) or "none"


def load_histories(
    store: Store,
    workloads: Sequence[str] = (),
    *,
    metric: str = "wall_time",
    statistic: str = "median",
    repo_root: Path | None = None,
    max_pvalue: float = 0.01,
    min_magnitude: float = 0.0,
) -> list[History]:
    """The histories of ``workloads`` (in that order), or of every workload with a series.

    One query reads every run of the series with its stored summary (``run_metrics``): a commit
    measured by one run takes that run's statistic and no sample is decoded; only a commit
    measured by several runs (a statistic over their pooled samples), or a run without a
    summary, reads samples. A named workload without a series is an error; unnamed, it is
    skipped (a workload only ever compared has nothing to chart).
    """
    from perfop.store.history import series_summaries

    if statistic not in STATISTICS:
        raise UsageError(f"--statistic {statistic!r}: expected one of {', '.join(STATISTICS)}")
    named = bool(workloads)
    found = series_summaries(store, metric, statistic, workloads)
    grouped = _by_commit(store, found, workloads)
    missing = sorted(
        {
            sha
            for by_sha in grouped.values()
            for sha, items in by_sha.items()
            if not any(i.run.committed_at for i in items)
        }
    )
    git_times = _commit_times(repo_root, missing)
    pooled_values = _pooled_values(store, grouped, metric, statistic)
    sortable: dict[str, str] = {}
    out: list[History] = []
    for name, by_sha in grouped.items():
        points: list[tuple[str, int, HistoryPoint]] = []
        for sha, items in by_sha.items():
            point = _point(sha, items, pooled_values, git_times)
            if point is None:
                continue
            stamp = point.committed_at or items[0].run.started_at
            key = sortable.get(stamp)
            if key is None:
                key = sortable[stamp] = _sortable_time(stamp)
            points.append((key, items[0].run.run_id, point))
        if not points:
            if not named:
                continue
            raise UsageError(
                f"workload {name!r} has no samples of metric {metric!r}; its metrics: "
                f"{_metric_names(store, by_sha)}; pass one with --metric"
            )
        points.sort(key=lambda item: (item[0], item[1]))
        out.append(
            _with_shifts(
                store,
                name,
                metric,
                statistic,
                tuple(p for _, _, p in points),
                max_pvalue=max_pvalue,
                min_magnitude=min_magnitude,
            )
        )
    return out


def _by_commit(
    store: Store, found: dict[str, list[Any]], workloads: Sequence[str]
) -> dict[str, dict[str, list[Any]]]:
    """workload -> sha -> its runs: the named workloads (each must have a series), or every
    workload that has one, in the store's order."""
    from perfop.store.history import known_workloads

    named = bool(workloads)
    names = list(workloads) if named else [w for w in known_workloads(store) if w in found]
    grouped: dict[str, dict[str, list[Any]]] = {}
    for name in names:
        runs = found.get(name)
        if not runs:
            known = ", ".join(known_workloads(store)) or "none yet"
            raise UsageError(
                f"no recorded runs of workload {name!r} with a commit; record some with "
                f"'perfop record' or 'perfop import' (workloads in the store: {known})"
            )
        by_sha: dict[str, list[Any]] = {}
        for item in runs:
            by_sha.setdefault(item.run.sha, []).append(item)
        grouped[name] = by_sha
    return grouped


def _pooled_values(
    store: Store, grouped: dict[str, dict[str, list[Any]]], metric: str, statistic: str
) -> dict[tuple[int, ...], tuple[float, int] | None]:
    """The statistic over the pooled samples of each commit not measured by one summarised run."""
    from perfop.store.history import commit_statistics

    pooled = [
        [i.run.run_id for i in items]
        for by_sha in grouped.values()
        for items in by_sha.values()
        if not (len(items) == 1 and items[0].n)
    ]
    return dict(
        zip(
            (tuple(g) for g in pooled),
            commit_statistics(store, pooled, metric, statistic) if pooled else [],
            strict=True,
        )
    )


def _point(
    sha: str,
    items: Sequence[Any],
    pooled_values: dict[tuple[int, ...], tuple[float, int] | None],
    git_times: dict[str, str],
) -> HistoryPoint | None:
    """One commit's point, or None when its runs have no value of the metric."""
    if len(items) == 1 and items[0].n:
        value: tuple[float, int] | None = (items[0].value, items[0].n)
    else:
        value = pooled_values[tuple(i.run.run_id for i in items)]
    if value is None:
        return None
    rs = [i.run for i in items]
    if len(rs) == 1:  # the common case, without the generators below (50,000 a page)
        r = rs[0]
        committed = r.committed_at or git_times.get(sha)
        branch, subject, dirty = r.branch or r.ref, r.subject, bool(r.dirty)
    else:
        committed = next((r.committed_at for r in rs if r.committed_at), None)
        committed = committed or git_times.get(sha)
        branch = next((r.branch or r.ref for r in rs if r.branch or r.ref), None)
        subject = next((r.subject for r in rs if r.subject), None)
        dirty = any(bool(r.dirty) for r in rs)
    return HistoryPoint(
        sha=sha,
        committed_at=committed,
        branch=branch or None,
        subject=subject or None,
        value=value[0],
        n=value[1],
        run_ids=tuple(r.run_id for r in rs),
        dirty=dirty,
    )


def _with_shifts(
    store: Store,
    workload: str,
    metric: str,
    statistic: str,
    series: tuple[HistoryPoint, ...],
    *,
    max_pvalue: float,
    min_magnitude: float,
) -> History:
    unit, better = _metric_spec(store, metric, series[-1].run_ids[-1])
    cps = detect_change_points(
        [p.value for p in series], max_pvalue=max_pvalue, min_magnitude=min_magnitude
    )
    shifts = tuple(
        Shift(
            index=cp.index,
            last_good=series[cp.index - 1].sha,
            first_bad=series[cp.index].sha,
            commit_range=f"{series[cp.index - 1].sha[:12]}..{series[cp.index].sha[:12]}",
            mean_before=cp.mean_before,
            mean_after=cp.mean_after,
            magnitude=cp.magnitude,
            confidence=cp.confidence,
            pvalue=cp.pvalue,
            direction=_direction(cp.magnitude, better),
        )
        for cp in cps
    )
    return History(workload, metric, unit, better, statistic, series, shifts)


def _sortable_time(stamp: str) -> str:
    import datetime as dt

    try:
        parsed = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat()


def _metric_spec(store: Store, metric: str, run_id: int) -> tuple[str, str]:
    if metric in BUILTIN_METRICS:
        unit, better = BUILTIN_METRICS[metric]
        return unit, better
    spec = store.get_run(run_id, with_samples=False).metric_specs.get(metric)
    return (spec.unit, spec.better) if spec else ("", "lower")


def _direction(magnitude: float, better: str) -> str:
    if magnitude == 0:
        return "change"
    worse = magnitude > 0 if better == "lower" else magnitude < 0
    return "regression" if worse else "improvement"


def format_history(history: History) -> str:
    """Plain-text rendering: the series (newest last) and the shifts."""
    unit = f" {history.unit}" if history.unit else ""
    lines = [
        f"{history.workload}: {history.metric} ({history.statistic}{unit}) over "
        f"{len(history.points)} commit(s)"
    ]
    shift_at = {s.index: s for s in history.shifts}
    for i, p in enumerate(history.points):
        mark = ""
        if i in shift_at:
            s = shift_at[i]
            mark = f"  <- {s.direction} {s.magnitude:+.1%}"
        when = (p.committed_at or "")[:19]
        subject = f"  {p.subject[:50]}" if p.subject else ""
        lines.append(f"  {p.sha[:12]}  {when:19}  {p.value:.6g}{unit}  n={p.n}{mark}{subject}")
    if history.shifts:
        lines.append("")
        lines.append(f"Persistent shifts ({len(history.shifts)}):")
        for s in history.shifts:
            lines.append(
                f"  {s.direction}: {s.magnitude:+.1%} ({s.mean_before:.6g} -> "
                f"{s.mean_after:.6g}{unit}) introduced in {s.commit_range}, "
                f"confidence {s.confidence:.4f}"
            )
    else:
        lines.append("")
        lines.append("No persistent shift found.")
    return "\n".join(lines) + "\n"


def write_plot(history: History, path: Path) -> Path:
    """Draw the series with its levels and shifts to ``path`` (format from the extension)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = list(range(len(history.points)))
    ys = [p.value for p in history.points]
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    try:
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=0.8, color="#4b6fa5", label="commit")
        bounds = [0, *(s.index for s in history.shifts), len(ys)]
        for start, end in itertools.pairwise(bounds):
            level = sum(ys[start:end]) / max(end - start, 1)
            ax.hlines(level, start - 0.4, end - 0.6, colors="#333333", linewidth=1.5)
        for s in history.shifts:
            colour = "#c0392b" if s.direction == "regression" else "#27ae60"
            ax.axvline(s.index - 0.5, color=colour, linestyle="--", linewidth=1)
            ax.annotate(
                f"{s.magnitude:+.1%}",
                (s.index - 0.5, max(ys)),
                color=colour,
                ha="center",
                va="bottom",
                fontsize=8,
            )
        step = max(1, len(xs) // 12)
        ax.set_xticks(xs[::step])
        ax.set_xticklabels([history.points[i].sha[:7] for i in xs[::step]], rotation=45, fontsize=7)
        unit = f" ({history.unit})" if history.unit else ""
        ax.set_ylabel(f"{history.metric} {history.statistic}{unit}")
        ax.set_title(f"{history.workload}: {history.metric} by commit")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
