"""Does `perfop gate` give the same answer every time on the same >= 20% regression?

A temporary git repository has one gated workload (a CPU-bound loop of ~40 ms) and a pull request
that makes it 25% slower. The script runs `perfop gate` on that pull request N times (a fresh
random seed each time, as in CI) and records each outcome; issue 19 saw FAIL, PASS, FAIL with a
user-set `max_runs = 6`, so both that budget and the default are run.

    .venv/bin/python benchmarks/gate_agreement.py --runs 20                  # quiet
    scripts/under_load.sh .venv/bin/python benchmarks/gate_agreement.py --runs 20 --label load
    .venv/bin/python benchmarks/gate_agreement.py --runs 20 --max-runs 6

Prints one line per run and a summary: how many runs failed the gate (the right answer), the
agreement rate (the share of runs giving the majority answer) and the chance that three runs
picked at random agree. Results go to docs/benchmarks.md ("Gate agreement").
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIB = "def work(n={n}):\n    s = 0\n    for i in range(n):\n        s += i * i % 7\n    return s\n"
BENCH = "import lib\nlib.work()\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, timeout=60)


def make_repo(root: Path, *, max_runs: int | None, slowdown: float) -> Path:
    repo = root / "repo"
    repo.mkdir()
    budget = f"max_runs = {max_runs}\n" if max_runs else ""
    (repo / "pyproject.toml").write_text(
        "[tool.perfop.workloads.loop]\n"
        'command = "{python} bench.py"\n'
        'env = { PYTHONPATH = "{worktree}" }\n'
        "gate = true\n" + budget
    )
    (repo / "bench.py").write_text(BENCH)
    (repo / "lib.py").write_text(LIB.format(n=400_000))
    (repo / ".gitignore").write_text(".perfop/\n__pycache__/\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "bench@example.invalid")
    _git(repo, "config", "user.name", "bench")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "checkout", "-q", "-b", "pr")
    (repo / "lib.py").write_text(LIB.format(n=int(400_000 * (1 + slowdown))))
    _git(repo, "commit", "-q", "-am", "slower")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-runs", type=int, default=None)
    parser.add_argument("--slowdown", type=float, default=0.25)
    parser.add_argument("--label", default="quiet")
    parser.add_argument("--out", type=Path, default=None, help="append one JSON line per run")
    args = parser.parse_args()

    outcomes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(Path(tmp), max_runs=args.max_runs, slowdown=args.slowdown)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PERFOP_"))}
        for i in range(args.runs):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "perfop", "gate", "--base", "main", "--format", "json"],
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            took = time.perf_counter() - t0
            doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else {}
            w = (doc.get("workloads") or [{}])[0]
            first = (w.get("first") or {}).get("metrics") or [{}]
            row = {
                "label": args.label,
                "max_runs": args.max_runs,
                "run": i,
                "exit": proc.returncode,
                "status": doc.get("status"),
                "outcome": w.get("outcome"),
                "first": (w.get("first") or {}).get("verdict"),
                "confirmation": (w.get("confirmation") or {}).get("verdict"),
                "pairs": [(w.get(k) or {}).get("pairs") for k in ("first", "confirmation")],
                "ratio": first[0].get("ratio"),
                "seconds": round(took, 1),
                "load": round(load, 1),
            }
            outcomes.append(str(row["status"]))
            print(json.dumps(row), flush=True)
            if args.out:
                with args.out.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
    n = len(outcomes)
    fails = outcomes.count("fail")
    majority = max(outcomes.count(s) for s in set(outcomes))
    three = sum(math.comb(outcomes.count(s), 3) for s in set(outcomes)) / math.comb(n, 3)
    counts = {s: outcomes.count(s) for s in sorted(set(outcomes))}
    print(
        f"{args.label}, max_runs={args.max_runs or 'default'}: {fails}/{n} runs failed the gate "
        f"(+{args.slowdown:.0%} regression); agreement {majority / n:.0%}; three random runs "
        f"agree with probability {three:.0%}; outcomes {counts}"
    )


if __name__ == "__main__":
    main()
