"""Report rendering time on a large engagement: 50 hypotheses, 200 comparisons.

Builds the engagement in a temporary git repository and SQLite store (tests/report_fixture.py:
real services and store functions, sample values from a seeded RNG), then times, in one process,
``collect`` (every query) and each renderer, best and median of ``--rounds`` rounds. The claim in
docs/benchmarks.md: the whole report renders in under 2 s in every format.

    .venv/bin/python benchmarks/report_render.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from perfop.config import load_config
from perfop.report import render, write_report
from perfop.report.data import collect
from perfop.report.model import ReportData
from perfop.store import open_store
from report_fixture import Outcome, build_engagement, make_repo

HYPOTHESES = 50
PER_HYPOTHESIS = 4  # comparisons (validations) per hypothesis: 200 in all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    kinds = (
        Outcome("confirmed", 0.7, "faster"),
        Outcome("refuted", 1.05, "slower"),
        Outcome("inconclusive", 0.99, "inconclusive"),
        Outcome("refuted", 1.0, "unchanged"),
    )
    outcomes = tuple(kinds[i % len(kinds)] for i in range(HYPOTHESES))
    with tempfile.TemporaryDirectory(prefix="perfop-bench-report-") as tmp:
        repo = make_repo(Path(tmp) / "repo")
        store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
        t0 = time.perf_counter()
        build_engagement(store, repo, outcomes=outcomes, comparisons_per_hypothesis=PER_HYPOTHESIS)
        built = time.perf_counter() - t0
        loaded = load_config(repo)
        load = os.getloadavg()
        steps = ("collect", "md", "md+png", "html", "json")
        wall: dict[str, list[float]] = {k: [] for k in steps}
        cpu: dict[str, list[float]] = {k: [] for k in steps}

        def timed(step: str, fn: Callable[[], object]) -> object:
            w, c = time.perf_counter(), time.process_time()
            out = fn()
            wall[step].append(time.perf_counter() - w)
            cpu[step].append(time.process_time() - c)
            return out

        out_md = Path(tmp) / "out" / "report.md"
        out_md.parent.mkdir()  # report refuses to create folders outside the repository
        for _ in range(args.rounds):
            data = timed("collect", lambda: collect(store, loaded))
            assert isinstance(data, ReportData)
            for fmt in ("md", "html", "json"):
                timed(fmt, lambda fmt=fmt, d=data: render(d, fmt))
            timed("md+png", lambda d=data: write_report(d, out_md, "md"))
        store.close()
    n_cmp = sum(len(v.workloads) for v in data.validations)
    n_pairs = sum(len(w.base_values) for v in data.validations for w in v.workloads)
    print(
        f"engagement: {len(data.hypotheses)} hypotheses, {len(data.validations)} comparisons "
        f"({n_cmp} workload results, {n_pairs} pairs), built in {built:.1f} s"
    )
    print(f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'step':<8} {'wall best':>9} {'wall median':>11} {'cpu median':>10}")
    for name in steps:
        print(
            f"{name:<8} {min(wall[name]):9.3f} {statistics.median(wall[name]):11.3f} "
            f"{statistics.median(cpu[name]):10.3f}"
        )
    slowest = max(("md+png", "html", "json"), key=lambda k: statistics.median(wall[k]))
    total = {
        kind: statistics.median(d["collect"]) + statistics.median(d[slowest])
        for kind, d in (("wall", wall), ("cpu", cpu))
    }
    best = min(wall["collect"]) + min(wall[slowest])
    ok = total["cpu"] < 2.0
    print(
        f"collect + {slowest} (slowest): wall median {total['wall']:.3f} s, best {best:.3f} s, "
        f"cpu median {total['cpu']:.3f} s -> {'under' if ok else 'OVER'} 2 s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
