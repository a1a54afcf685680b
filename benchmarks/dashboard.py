"""How long `perfop publish` takes for 50 workloads x 1,000 commits (issue 19: under 3 s).

Two timings, median of 5 each: (1) rendering the page from the histories (the pure part), and
(2) the whole build from a real SQLite store: every workload's history through the store's
public functions (``perfop.history.publish.collect`` -> ``load_history``, change points included)
plus rendering. The store is filled once beforehand through the importer's path (one run of 5
samples per workload and commit, with the commit's time and subject), not timed.

    .venv/bin/python benchmarks/dashboard.py [--workloads 50] [--commits 1000] [--store FILE]

``--store FILE`` keeps the filled SQLite store in FILE and reuses it when it exists (filling
50,000 runs through the importer takes minutes), so two versions of perfop can be timed on the
same store.

Results go to docs/benchmarks.md ("Dashboard build").
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def fill_store(url: str, workloads: int, commits: int) -> None:
    from perfop.history.publish import synthetic_histories
    from perfop.model import MetricSpec
    from perfop.store import open_store
    from perfop.store.history import CommitInfo, insert_imported_run, save_commit

    histories = synthetic_histories(workloads, commits)
    store = open_store(url)
    try:
        for point in histories[0].points:
            save_commit(store, CommitInfo(point.sha, point.committed_at, "main", point.subject))
        spec = {"wall_time": MetricSpec("wall_time", "s", "lower")}
        for h in histories:
            for point in h.points:
                insert_imported_run(
                    store,
                    workload=h.workload,
                    argv=["bench"],
                    samples=[
                        {"wall_time": point.value * (1 + d)} for d in (-0.01, 0, 0.01, 0.0, 0)
                    ],
                    settings={},
                    metric_specs=spec,
                    environment_id=None,
                    sha=point.sha,
                    ref="main",
                    dirty=False,
                )
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=50)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", type=Path, help="SQLite file to fill once and reuse")
    args = parser.parse_args()

    from perfop.history.publish import (
        DashboardOptions,
        collect,
        render_dashboard,
        synthetic_histories,
    )
    from perfop.store import open_store

    opts = DashboardOptions(repo_url="https://github.com/acme/demo")
    histories = synthetic_histories(args.workloads, args.commits)
    render = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        page = render_dashboard(histories, opts)
        render.append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        db = args.store or Path(tmp) / "perfop.db"
        url = f"sqlite:///{db}"
        filled = None
        if not db.exists():
            t0 = time.perf_counter()
            fill_store(url, args.workloads, args.commits)
            filled = time.perf_counter() - t0
        whole = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            store = open_store(url)
            try:
                got = collect(store)
            finally:
                store.close()
            page = render_dashboard(got, opts)
            whole.append(time.perf_counter() - t0)
    shifts = sum(len(h.shifts) for h in got)
    print(
        f"{args.workloads} workloads x {args.commits} commits; page {len(page) / 1e6:.2f} MB, "
        f"{shifts} shifts marked; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"render only:            median {statistics.median(render):.3f} s  (runs: "
        + ", ".join(f"{t:.3f}" for t in render)
        + ")"
    )
    print(
        f"store -> page (whole):  median {statistics.median(whole):.3f} s  (runs: "
        + ", ".join(f"{t:.3f}" for t in whole)
        + ")"
    )
    if filled is not None:
        print(f"(filling the store, not timed above: {filled:.1f} s)")


if __name__ == "__main__":
    main()
