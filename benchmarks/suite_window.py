"""How noisy is one suite run's value of a benchmark, by the window its rounds cover?

The suite of ``benchmarks/suites.py`` (10 pytest-benchmark tests, the candidate +5% on ``slow5``
and -20% on ``fast20``) is run PAIRS times at each side, one run per side per pair in random
order, with ``--benchmark-max-time=MAX_TIME``. For each benchmark and per-run statistic (the
minimum or the median of its rounds) the script prints the standard deviation over pairs of
the log ratio candidate/base with the true change removed (the noise a paired test sees), its
MAD-based equivalent (robust to single disturbed pairs), and the median time a benchmark's
rounds covered in one run. docs/statistics.md (section 10) quotes its output.

    python benchmarks/suite_window.py --pairs 30 --max-time 0.02
    python benchmarks/suite_window.py --pairs 8 --max-time 0.1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from suites import CHANGE, NAMES, PY, make_repo


def one_run(tree: Path, max_time: float, out: Path) -> dict[str, list[float]]:
    argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "benchmarks"]
    argv += [f"--benchmark-max-time={max_time}", "--benchmark-min-rounds=5"]
    argv += [f"--benchmark-json={out}", "--benchmark-save-data"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(argv, cwd=tree, env=env, check=True, capture_output=True)
    doc = json.loads(out.read_text())
    return {b["name"].removeprefix("test_"): b["stats"]["data"] for b in doc["benchmarks"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--max-time", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="perfop-suite-window-"))
    loads = [os.getloadavg()[0]]
    try:
        make_repo(root)
        pairs = []
        for _ in range(args.pairs):
            pair = {}
            for side in rng.sample(["main", "cand"], 2):
                pair[side] = one_run(root / f"wt-{side}", args.max_time, root / "r.json")
            pairs.append(pair)
            loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(root, ignore_errors=True)
    out: dict[str, object] = {"max_time": args.max_time, "pairs": args.pairs}
    for how, fn in (("min", min), ("median", statistics.median)):
        sds, mads = {}, {}
        for name in NAMES:
            truth = math.log(CHANGE.get(name, 1.0))
            x = [math.log(fn(p["cand"][name]) / fn(p["main"][name])) - truth for p in pairs]
            sds[name] = statistics.stdev(x)
            mid = statistics.median(x)
            mads[name] = 1.4826 * statistics.median(abs(v - mid) for v in x)
        out[how] = {
            "sd_median_over_benchmarks": round(statistics.median(sds.values()), 4),
            "sd_by_benchmark": {k: round(v, 4) for k, v in sds.items()},
            "mad_sd_median_over_benchmarks": round(statistics.median(mads.values()), 4),
        }
    spans = [sum(p[s][n]) for p in pairs for s in p for n in NAMES]
    out["median_window_s"] = round(statistics.median(spans), 4)
    out["load_min_max"] = [round(min(loads), 2), round(max(loads), 2)]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
