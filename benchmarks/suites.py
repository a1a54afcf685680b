"""Suite benchmark: per-benchmark A/B of a pytest-benchmark suite, perfop vs the suite tools.

In a temporary git repository, a suite of 10 pytest-benchmark tests calls 10 CPU-bound functions
(Python loops, ~0.2-1 ms a call). The candidate commit makes ``slow5`` 5% slower (5% more loop
iterations) and ``fast20`` 20% faster (20% fewer); the other 8 are unchanged. For each of N
comparisons of the same two commits:

- perfop: ``perfop compare main cand -w bench --format json`` on the suite workload
  (``kind = "pytest-benchmark"``), default threshold 2%, alpha 0.05, ``--max-time`` BUDGET;
- pytest-benchmark: one suite run at each side (``--benchmark-json``, in two git worktrees, in
  random order), ``pytest-benchmark compare --group-by name`` over the two files (printed table,
  as a user would read it), and its documented fail rule ``--benchmark-compare-fail=min:5%``
  applied to the same two files (a benchmark whose min moved by more than 5% is "changed");
- asv: what ``asv continuous --factor 1.1`` does without building environments: ``asv run
  --python=same`` of an asv version of the same suite at each side, then ``asv compare --factor
  1.1 --split`` (a benchmark asv lists as changed at factor 1.1).

Detection: ``slow5`` called slower, ``fast20`` called faster. False alarm: an unchanged benchmark
called faster or slower. Results go to a JSON-lines file and a summary on stdout.

    python benchmarks/suites.py --comparisons 20 --budget 100 --asv-every 4 --out /tmp/suites.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

PY = sys.executable
NAMES = ["slow5", "fast20", *[f"same{i}" for i in range(8)]]
LOOPS = {name: 6000 + 1500 * i for i, name in enumerate(NAMES)}
CHANGE = {"slow5": 1.05, "fast20": 0.80}

PB_ARGS = ["--benchmark-max-time=0.1", "--benchmark-min-rounds=5"]


def lib_source(changed: bool) -> str:
    out = []
    for name in NAMES:
        n = round(LOOPS[name] * (CHANGE.get(name, 1.0) if changed else 1.0))
        body = f"    t = 0\n    for i in range({n}):\n        t += i % 7\n    return t\n"
        out.append(f"def {name}():\n{body}")
    return "\n\n".join(out)


PB_SUITE = "import lib\n\n" + "\n".join(
    f"def test_{n}(benchmark):\n    benchmark(lib.{n})\n" for n in NAMES
)
ASV_SUITE = "import lib\n\n" + "\n".join(f"def time_{n}():\n    lib.{n}()\n" for n in NAMES)
ASV_CONF = {
    "version": 1,
    "project": "lib",
    "repo": ".",
    "branches": ["HEAD"],
    "benchmark_dir": "asvbench",
    "environment_type": "existing",
    "results_dir": ".asv/results",
    "html_dir": ".asv/html",
}
CONFIG = f"""\
[tool.perfop.workloads.bench]
kind = "pytest-benchmark"
suite = "benchmarks/"
args = {json.dumps(PB_ARGS)}
env = {{ PYTHONPATH = "{{worktree}}" }}
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "b",
        "GIT_AUTHOR_EMAIL": "b@b",
        "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@b",
    }
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "asvbench").mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "pyproject.toml").write_text(CONFIG)
    (repo / "lib.py").write_text(lib_source(False))
    (repo / "benchmarks" / "test_lib.py").write_text(PB_SUITE)
    (repo / "asvbench" / "__init__.py").write_text("")
    (repo / "asvbench" / "bench.py").write_text(ASV_SUITE)
    (repo / "asv.conf.json").write_text(json.dumps(ASV_CONF))
    (repo / ".gitignore").write_text(".asv/\n.perfop/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "switch", "-q", "-c", "cand")
    (repo / "lib.py").write_text(lib_source(True))
    git(repo, "commit", "-q", "-am", "slow5 +5%, fast20 -20%")
    git(repo, "switch", "-q", "main")
    for side in ("main", "cand"):
        git(repo, "worktree", "add", "-q", "--detach", str(root / f"wt-{side}"), side)
    return repo


def run_perfop(repo: Path, budget: float, seed: int) -> dict[str, Any]:
    argv = [PY, "-m", "perfop", "compare", "main", "cand", "-w", "bench", "--format", "json"]
    argv += ["--max-time", str(budget), "--seed", str(seed)]
    t0 = time.monotonic()
    out = subprocess.run(argv, cwd=repo, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    doc = json.loads(out.stdout)
    w = doc["workloads"][0]
    verdicts = {}
    for b in (w.get("suite") or {}).get("benchmarks") or []:
        verdicts[b["name"].removeprefix("test_")] = b["verdict"] or b["status"]
    return {"verdicts": verdicts, "pairs": w["pairs"], "wall": wall, "failure": w["failure"]}


def pb_run(tree: Path, out: Path) -> None:
    argv = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "benchmarks", *PB_ARGS]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    subprocess.run(
        [*argv, f"--benchmark-json={out}"], cwd=tree, env=env, check=True, capture_output=True
    )


def run_pytest_benchmark(root: Path, rng: random.Random, k: int) -> dict[str, Any]:
    files = {side: root / f"pb-{k}-{side}.json" for side in ("main", "cand")}
    t0 = time.monotonic()
    for side in rng.sample(["main", "cand"], 2):
        pb_run(root / f"wt-{side}", files[side])
    table = subprocess.run(
        [str(Path(PY).parent / "pytest-benchmark"), "compare", "--group-by", "name"]
        + [str(p) for p in files.values()],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - t0
    mins = {}
    for side, path in files.items():
        doc = json.loads(path.read_text())
        mins[side] = {b["name"].removeprefix("test_"): b["stats"]["min"] for b in doc["benchmarks"]}
    verdicts = {}
    for name in NAMES:
        ratio = mins["cand"][name] / mins["main"][name]
        verdicts[name] = "slower" if ratio > 1.05 else "faster" if ratio < 1 / 1.05 else "same"
    return {"verdicts": verdicts, "wall": wall, "table_ok": table.returncode == 0}


def asv_run(tree: Path, home: Path) -> None:
    env = {**os.environ, "HOME": str(home), "ASV_PYTHONPATH": str(tree)}
    sha = git(tree, "rev-parse", "HEAD")
    subprocess.run(
        [PY, "-m", "asv", "run", "--python=same", "--machine", "bench", "--set-commit-hash", sha],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
    )


def run_asv(root: Path, rng: random.Random, k: int) -> dict[str, Any]:
    home = root / "asvhome"
    t0 = time.monotonic()
    for side in rng.sample(["main", "cand"], 2):
        tree = root / f"wt-{side}"
        shutil.rmtree(tree / ".asv", ignore_errors=True)
        asv_run(tree, home)
    # One results folder holding both commits, as asv continuous has.
    merged = root / f"asv-{k}"
    for side in ("main", "cand"):
        shutil.copytree(root / f"wt-{side}" / ".asv", merged, dirs_exist_ok=True)
    conf = {**ASV_CONF, "results_dir": str(merged / "results"), "repo": str(root / "repo")}
    conf_path = root / f"asv-{k}.json"
    conf_path.write_text(json.dumps(conf))
    shas = [git(root / f"wt-{s}", "rev-parse", "HEAD") for s in ("main", "cand")]
    out = subprocess.run(
        [
            PY,
            "-m",
            "asv",
            "compare",
            "--config",
            str(conf_path),
            "--factor",
            "1.1",
            "--split",
            "--machine",
            "bench",
            *shas,
        ],
        cwd=root / "repo",
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - t0
    verdicts = dict.fromkeys(NAMES, "same")
    section = ""
    for line in out.stdout.splitlines():
        if "Benchmarks that have got worse" in line:
            section = "slower"
        elif "Benchmarks that have improved" in line:
            section = "faster"
        elif "Benchmarks that have stayed the same" in line:
            section = "same"
        m = re.search(r"bench\.time_(\w+)", line)
        if m and section:
            verdicts[m.group(1)] = section
    return {"verdicts": verdicts, "wall": wall, "stdout_tail": out.stdout[-300:]}


def machine_setup(root: Path) -> None:
    home = root / "asvhome"
    home.mkdir()
    subprocess.run(
        [PY, "-m", "asv", "machine", "--yes", "--machine", "bench"],
        cwd=root / "repo",
        env={**os.environ, "HOME": str(home)},
        check=True,
        capture_output=True,
    )


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tool in ("perfop", "pytest-benchmark", "asv"):
        got = [r[tool]["verdicts"] for r in rows if tool in r]
        n = len(got)
        slow = sum(1 for v in got if v.get("slow5") == "slower")
        fast = sum(1 for v in got if v.get("fast20") == "faster")
        same = [v.get(name) for v in got for name in NAMES if name.startswith("same")]
        false = sum(1 for v in same if v in ("slower", "faster"))
        walls = sorted(r[tool]["wall"] for r in rows if tool in r)
        out[tool] = {
            "comparisons": n,
            "slow5_detected": slow,
            "fast20_detected": fast,
            "unchanged_called_changed": false,
            "unchanged_cases": len(same),
            "median_wall_s": walls[len(walls) // 2] if walls else None,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--comparisons", type=int, default=20)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=Path("suites.jsonl"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--asv-every", type=int, default=1, help="asv on every k-th comparison")
    ap.add_argument(
        "--keep", action="store_true", help="keep the temporary repository (perfop's store)"
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="perfop-suites-bench-"))
    try:
        repo = make_repo(root)
        machine_setup(root)
        rows = []
        with args.out.open("w") as fh:
            for k in range(args.comparisons):
                row: dict[str, Any] = {"k": k, "load": os.getloadavg()[0]}
                row["perfop"] = run_perfop(repo, args.budget, args.seed * 1000 + k)
                row["pytest-benchmark"] = run_pytest_benchmark(root, rng, k)
                if k % args.asv_every == 0:
                    row["asv"] = run_asv(root, rng, k)
                rows.append(row)
                fh.write(json.dumps(row) + "\n")
                fh.flush()
                print(json.dumps({"k": k, **{t: row[t]["verdicts"] for t in ("perfop",)}}))
        summary = summarise(rows)
        summary["machine"] = {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_min_max": [min(r["load"] for r in rows), max(r["load"] for r in rows)],
        }
        print(json.dumps(summary, indent=2))
    finally:
        if args.keep:
            print(f"kept {root} (perfop export cN --format json in {root / 'repo'})")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
