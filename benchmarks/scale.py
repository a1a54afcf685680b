"""perfop at scale: a history of 1,000,000 samples (2,000 commits x 500 samples).

Builds the store through the real store API (``begin_run``, ``add_results`` in blocks of
``--block`` samples as a run's writer flushes them, ``finish_run``, ``save_commit``) in a
temporary git repository, then times the real CLI in fresh processes, each ``--repeat`` times,
with the peak RSS of each process (``wait4``):

    perfop history W --no-plot          goal < 1 s, < 150 MB      (issue 18)
    perfop runs list --limit 2000       goal < 0.5 s
and, in this process, the store calls behind them (``load_history``, ``Store.list_runs``) so the
store's share is apart from start-up; reports the store's size on disk (goal <= 60 MB). Prints
one JSON document.

    .venv/bin/python benchmarks/scale.py [--commits 2000] [--samples 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _doc import cpu_model  # benchmarks/_doc.py (scripts run from benchmarks/)

from perfop.model import ProcessResult, RunStatus
from perfop.store import open_store
from perfop.store.history import CommitInfo, save_commit

CONFIG = '[workloads.W]\ncommand = "true"\n'


def _result(rng: random.Random, level: float) -> ProcessResult:
    wall = level * (1 + rng.gauss(0, 0.02))
    user, sys_t = wall * 0.8, wall * 0.05
    rss = float(rng.randrange(20_000_000, 21_000_000))
    return ProcessResult(
        argv=("true",),
        exit_code=0,
        signal=None,
        timed_out=False,
        wall_time=wall,
        user_time=user,
        sys_time=sys_t,
        peak_rss=int(rss),
        metrics={
            "wall_time": wall,
            "user_time": user,
            "sys_time": sys_t,
            "cpu_time": user + sys_t,
            "peak_rss": rss,
        },
        stdout_digest="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    )


def build(repo: Path, commits: int, samples: int, block: int) -> float:
    store = open_store(f"sqlite:///{repo}/.perfop/perfop.db")
    rng = random.Random(18)
    t0 = time.perf_counter()
    try:
        for k in range(commits):
            sha = f"{k:040x}"
            level = 0.1 * (1.1 if k >= commits * 3 // 5 else 1.0)  # one 10% regression
            save_commit(
                store,
                CommitInfo(
                    sha=sha,
                    committed_at=f"2026-01-01T{_hms(k)}+00:00",
                    branch="main",
                    subject=f"commit {k}",
                ),
            )
            run_id = store.begin_run(
                workload="W", argv=["true"], kind="record", sha=sha, ref="main", dirty=False
            )
            for start in range(0, samples, block):
                items = [
                    (i, _result(rng, level)) for i in range(start, min(start + block, samples))
                ]
                store.add_results(run_id, items)
            store.finish_run(run_id, RunStatus.COMPLETE)
    finally:
        store.close()
    return time.perf_counter() - t0


def _hms(k: int) -> str:
    return f"{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}"


def _timed(argv: list[str], cwd: Path) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MB, exit code, CPU s) of one fresh process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        print(f"{argv}: exit {proc.returncode}: {err[-500:]}", file=sys.stderr)
    return wall, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--block", type=int, default=100, help="samples per add_results call")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="copy the built repository here")
    parser.add_argument("--reuse", type=Path, help="time a repository kept by --keep, build none")
    args = parser.parse_args()
    perfop = str(Path(sys.executable).with_name("perfop"))
    with tempfile.TemporaryDirectory(prefix="perfop-bench-scale-") as tmp:
        repo = args.reuse or Path(tmp) / "repo"
        built = 0.0
        if args.reuse is None:
            repo.mkdir()
            (repo / "perfop.toml").write_text(CONFIG)
            env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com"}
            env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}
            for cmd in (["init", "-q"], ["add", "perfop.toml"], ["commit", "-qm", "config"]):
                subprocess.run(["git", *cmd], cwd=repo, check=True, env=env)
            built = build(repo, args.commits, args.samples, args.block)
        db = repo / ".perfop" / "perfop.db"
        size = sum(p.stat().st_size for p in db.parent.glob("perfop.db*"))
        commands = {
            "history": [perfop, "history", "W", "--no-plot"],
            "runs list": [perfop, "runs", "list", "--limit", "2000"],
            "floor: runs list --limit 1": [perfop, "runs", "list", "--limit", "1"],
        }
        results: dict[str, object] = {}
        load_before = os.getloadavg()
        for name, argv in commands.items():
            runs = [_timed(argv, repo) for _ in range(args.repeat)]
            walls = [w for w, _, _, _ in runs]
            cpus = [c for _, _, _, c in runs]
            results[name] = {
                "command": " ".join(["perfop", *argv[1:]]),
                "wall_s": [round(w, 3) for w in walls],
                "median_s": round(statistics.median(walls), 3),
                "cpu_s": [round(c, 3) for c in cpus],
                "cpu_median_s": round(statistics.median(cpus), 3),
                "peak_rss_mb": round(max(r for _, r, _, _ in runs), 1),
                "exit_codes": sorted({c for _, _, c, _ in runs}),
            }
        from perfop.history.service import load_history

        store = open_store(f"sqlite:///{db}")
        try:
            for name, call in (
                ("load_history", lambda: load_history(store, "W", repo_root=repo)),
                ("list_runs", lambda: store.list_runs(limit=2000)),
            ):
                walls, cpus = [], []
                for _ in range(args.repeat):
                    t0, c0 = time.perf_counter(), time.process_time()
                    call()
                    walls.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)
                results[f"in-process {name}"] = {
                    "wall_s": [round(w, 3) for w in walls],
                    "median_s": round(statistics.median(walls), 3),
                    "cpu_median_s": round(statistics.median(cpus), 3),
                }
            shifts = load_history(store, "W", repo_root=repo).shifts
            results["shifts"] = [(s.index, round(s.magnitude, 4)) for s in shifts]
        finally:
            store.close()
        if args.keep and args.reuse is None:
            shutil.copytree(repo, args.keep)
    doc = {
        "samples": args.commits * args.samples,
        "commits": args.commits,
        "build_s": round(built, 1),
        "store_mb": round(size / 1e6, 1),
        "results": results,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
    }
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
