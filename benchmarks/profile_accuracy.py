"""Profile accuracy: how close each CPU backend's self-time shares come to the known truth.

The fixture ``tests/data/profiling/cpu_hot.py`` runs ``hot_loop`` (4 units of work) then
``side_work`` (1 unit); its ``--truth`` mode times both with ``perf_counter`` and no profiler.
Each round profiles it once per backend through ``perfop.profiling.service.profile`` and records
the hot function's share minus the truth of a ``--truth`` run right before it. On a loaded
machine the shares move with the load while each function runs, which is why the test suite only
checks the ranking (tests/integration/test_profiling.py) and this claim lives here.

    .venv/bin/python benchmarks/profile_accuracy.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "data" / "profiling" / "cpu_hot.py"


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    shutil.copy(FIXTURE, repo / "cpu_hot.py")
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "fixture"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def _truth(repo: Path) -> float:
    out = subprocess.run(
        [sys.executable, "cpu_hot.py", "--truth"], cwd=repo, capture_output=True, text=True
    )
    times = json.loads(out.stdout)
    return 100.0 * times["hot_loop"] / times["total"]


def main() -> None:
    from perfop.config import load_config
    from perfop.profiling.service import ProfileOptions, profile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    errors: dict[str, list[float]] = {"py-spy": [], "pyinstrument": []}
    with tempfile.TemporaryDirectory() as tmp:
        repo = _repo(Path(tmp))
        for _ in range(args.rounds):
            for backend, found in errors.items():
                truth = _truth(repo)
                report = profile(
                    load_config(repo),
                    command=[sys.executable, "cpu_hot.py"],
                    options=ProfileOptions(backend=backend),
                    cwd=repo,
                )
                cpu = report.part("cpu")
                hot = cpu.hotspot("hot_loop") if cpu else None
                found.append((hot.self_pct if hot else 0.0) - truth)
    load = os.getloadavg()[0]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, load (1 min) at the end {load:.1f}"
    )
    for backend, found in errors.items():
        worst = max(found, key=abs)
        print(
            f"{backend:>12}: hot_loop share - truth over {len(found)} rounds: "
            f"median {statistics.median(found):+.1f} points, worst {worst:+.1f}"
        )


if __name__ == "__main__":
    main()
