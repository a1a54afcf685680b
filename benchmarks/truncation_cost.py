"""What truncating a comparison's look plan costs (issue 14, point 8): timed as the pair loop
times it (``Budget.price_replan``: monotonic clock around ``SequentialDesign.truncated``, after
SciPy's special functions are imported), for the plans a 10 s comparison makes (30-120 pairs).

    PYTHONPATH=TREE/src .venv/bin/python benchmarks/truncation_cost.py [--reps 15]

Run it with PYTHONPATH on two trees (e.g. ``git archive`` copies of main and a branch) to compare
them; rows print as JSON lines, one per plan size, with the plan's own cost beside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from perfop import stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=15)
    args = ap.parse_args()
    stats.load_special()
    stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=30).truncated(20)  # warm
    for planned in (30, 60, 80, 120):
        plans: list[float] = []
        cuts: list[float] = []
        for _ in range(args.reps):
            t = time.monotonic()
            design = stats.plan(alpha=0.05, threshold=0.02, first=5, max_pairs=planned)
            plans.append(time.monotonic() - t)
            for n in (planned - 1, planned * 2 // 3):
                t = time.monotonic()
                design.truncated(n)
                cuts.append(time.monotonic() - t)
        row = {
            "planned_pairs": planned,
            "looks": len(design.looks),
            "plan_ms_median": round(statistics.median(plans) * 1e3, 1),
            "plan_ms_max": round(max(plans) * 1e3, 1),
            "truncate_ms_median": round(statistics.median(cuts) * 1e3, 2),
            "truncate_ms_max": round(max(cuts) * 1e3, 2),
            "loadavg": os.getloadavg()[0],
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
