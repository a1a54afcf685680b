"""`perfop publish` reads every series through the stored per-run summaries: a fixed number of
queries whatever the number of workloads, no sample decoded for a commit measured by one run,
and the same values as the samples give (a commit measured twice pools both runs' samples)."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from perfop.history.publish import collect
from perfop.model import MetricSpec
from perfop.store import Store, open_store
from perfop.store.history import CommitInfo, insert_imported_run, save_commit

SPEC = {"wall_time": MetricSpec("wall_time", "s", "lower")}


def _run(store: Store, workload: str, sha: str, samples: list[float]) -> int:
    return insert_imported_run(
        store,
        workload=workload,
        argv=["bench"],
        samples=[{"wall_time": v} for v in samples],
        settings={},
        metric_specs=SPEC,
        environment_id=None,
        sha=sha,
        ref="main",
        dirty=False,
    )


def _fill(store: Store, workloads: int, commits: int) -> dict[tuple[str, str], list[float]]:
    """One run of 3 samples per workload and commit, a step at commit 10; returns the samples."""
    out: dict[tuple[str, str], list[float]] = {}
    for c in range(commits):
        sha = f"{c:040x}"
        save_commit(store, CommitInfo(sha, f"2026-01-01T00:{c:02d}:00+00:00", "main", f"c{c}"))
        for w in range(workloads):
            level = (0.1 + 0.01 * w) * (1.5 if c >= 10 else 1.0)
            samples = [level * (1 + 0.001 * ((c * 7 + w + k) % 5)) for k in range(3)]
            _run(store, f"wl-{w}", sha, samples)
            out[(f"wl-{w}", sha)] = samples
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'perfop.db'}")
    try:
        yield opened
    finally:
        opened.close()


def _count_selects(store: Store) -> list[str]:
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", listen)
    return seen


def _forbid_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    import perfop.store.samples as samples

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("publish decoded samples")

    for name in ("decode_block", "block_values", "read_blocks", "run_samples"):
        monkeypatch.setattr(samples, name, refuse)


def test_publish_reads_summaries_in_a_fixed_number_of_queries_and_decodes_no_sample(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = _fill(store, workloads=6, commits=20)
    _forbid_decoding(monkeypatch)
    selects = _count_selects(store)
    histories = collect(store)
    assert [h.workload for h in histories] == [f"wl-{w}" for w in range(6)]
    # one query for every series and its summaries, one for the workloads' names: not a few
    # per workload (the per-workload path ran 2 per workload and one more, 13 here)
    assert len(selects) <= 3, selects
    for h in histories:
        assert len(h.points) == 20
        for p in h.points:
            assert p.value == statistics.median(samples[(h.workload, p.sha)])
            assert p.n == 3
        assert [s.index for s in h.shifts] == [10]


def test_a_commit_measured_twice_pools_both_runs_samples(store: Store) -> None:
    samples = _fill(store, workloads=2, commits=12)
    sha = f"{3:040x}"
    extra = [0.5, 0.6, 0.7, 0.8]
    _run(store, "wl-1", sha, extra)
    by_name = {h.workload: h for h in collect(store)}
    point = next(p for p in by_name["wl-1"].points if p.sha == sha)
    assert point.n == 7 and len(point.run_ids) == 2
    assert point.value == statistics.median(samples[("wl-1", sha)] + extra)
    other = next(p for p in by_name["wl-0"].points if p.sha == sha)
    assert other.value == statistics.median(samples[("wl-0", sha)]) and other.n == 3
    named = collect(store, workloads=["wl-1"])
    assert [h.workload for h in named] == ["wl-1"] and named[0].points == by_name["wl-1"].points


def test_an_unknown_statistic_is_an_error_not_an_empty_dashboard(store: Store) -> None:
    from perfop.errors import UsageError

    _fill(store, workloads=1, commits=3)
    with pytest.raises(UsageError, match="--statistic 'bogus'"):
        collect(store, statistic="bogus")
