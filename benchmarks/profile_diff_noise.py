"""How often ``perfop profile diff`` calls noise a change, under an injected CPU load.

A repository with two commits: ``slow_sum`` quadratic at the base, linear at the candidate;
``steady`` unchanged. Two busy processes (the injected load on a 2-core machine) run throughout.
Each of ``--diffs`` diffs profiles both refs ``--repeat`` times, interleaved, as
``perfop profile diff`` does, and we count: ``steady`` reported ``within noise``; ``slow_sum`` the
top ``decrease``; the header's total (paired CPU ratio) below 1 with its interval excluding 1.

    .venv/bin/python benchmarks/profile_diff_noise.py [--diffs 20] [--repeat 3] [--burners 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

APP = """
def slow_sum(n):
{body}

def steady(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total

if __name__ == "__main__":
    slow_sum(2500)
    steady(2_500_000)
"""
QUADRATIC = """    total = 0
    for i in range(n):
        for j in range(i):
            total += 1
    return total"""
LINEAR = """    total = 0
    for i in range(n):
        total += i
    return total"""
BURNER = "while True:\n    pass\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=b", "-c", "user.email=b@e", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(APP.format(body=QUADRATIC), encoding="utf-8")
    (repo / "perfop.toml").write_text(
        '[workloads.app]\ncommand = ["{python}", "app.py"]\n', encoding="utf-8"
    )
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "tag", "base")
    (repo / "app.py").write_text(APP.format(body=LINEAR), encoding="utf-8")
    _git(repo, "commit", "-qam", "linear slow_sum")
    return repo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diffs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--burners", type=int, default=2)
    args = parser.parse_args()

    from perfop.config import load_config
    from perfop.profiling.diff import NOISE
    from perfop.profiling.service import ProfileOptions, profile_diff

    burners = [
        subprocess.Popen([sys.executable, "-c", BURNER], start_new_session=True)
        for _ in range(args.burners)
    ]
    steady_noise = fixed_top = total_right = 0
    loads = []
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            repo = _repo(Path(tmp))
            loaded = load_config(repo)
            for i in range(args.diffs):
                result = profile_diff(
                    loaded, "base", "HEAD", workload="app",
                    options=ProfileOptions(repeat=args.repeat),
                )  # fmt: skip
                (diff,) = result.diffs
                steady = diff.row("steady")
                steady_noise += steady is not None and steady.status == NOISE
                fixed_top += bool(diff.decreases) and diff.decreases[0].function == "slow_sum"
                total = diff.total
                right = total is not None and total.high is not None and total.high < 1.0
                total_right += right
                loads.append(os.getloadavg()[0])
                print(
                    f"diff {i + 1:2d}: steady {steady.status if steady else 'absent':13s} "
                    f"ratio [{steady.ratio_low or 0:.2f}, {steady.ratio_high or 0:.2f}]  "
                    f"top decrease {diff.decreases[0].function if diff.decreases else '-':9s} "
                    f"total x{total.ratio if total else 0:.2f}  load {loads[-1]:.1f}",
                    flush=True,
                )
    finally:
        for proc in burners:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    n = args.diffs
    print()
    print(f"steady within noise:        {steady_noise}/{n}")
    print(f"slow_sum the top decrease:  {fixed_top}/{n}")
    print(f"total ratio < 1 (CI < 1):   {total_right}/{n}")
    print(
        f"repeat {args.repeat}, burners {args.burners}, load 1-min {min(loads):.1f}-"
        f"{max(loads):.1f}, {time.perf_counter() - start:.0f} s; {platform.python_version()}, "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
