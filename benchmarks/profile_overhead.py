"""Profiler overhead: wall time profiled / unprofiled, per backend, on two pure-Python workloads.

Each round runs every variant once in a shuffled order (interleaved, so drift hits all alike);
the ratio is median(profiled) / median(unprofiled). Variants run the way ``perfop profile`` runs
them (through perfop's bootstrap); cProfile is the reference.

    .venv/bin/python benchmarks/profile_overhead.py [--rounds 7] [--size 1.0]
"""

from __future__ import annotations

import argparse
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

from perfop.profiling.backends import BOOTSTRAP, find_py_spy

LOOP = """
def loop(n):
    total = 0
    for i in range(n):
        total += (i * 7) % 13
    return total

loop(int(9_000_000 * {size}))
"""

CALLS = """
def leaf(x):
    return x + 1

def middle(x):
    return leaf(x) * 2

def calls(n):
    total = 0
    for i in range(n):
        total += middle(i)
    return total

calls(int(6_000_000 * {size}))
"""


def variants(script: Path, out: Path) -> dict[str, list[str]]:
    py = sys.executable
    boot = [str(BOOTSTRAP), "--status", str(out / "status.json")]
    return {
        "none": [py, str(script)],
        "py-spy": [
            find_py_spy(),
            "record",
            "--format",
            "speedscope",
            "--output",
            str(out / "s.json"),
            "--rate",
            "250",
            "--function",
            "--full-filenames",
            "--subprocesses",
            "--",
            py,
            *boot,
            "--script",
            str(script),
            "--",
        ],
        "pyinstrument": [
            py,
            *boot,
            "--profiler",
            "pyinstrument",
            "--out",
            str(out / "p.pyisession"),
            "--interval",
            "0.001",
            "--script",
            str(script),
            "--",
        ],
        "memray": [
            py,
            *boot,
            "--profiler",
            "memray",
            "--out",
            str(out / "m.bin"),
            "--script",
            str(script),
            "--",
        ],
        "cProfile": [py, "-m", "cProfile", "-o", str(out / "c.prof"), str(script)],
    }


def wall(argv: list[str], out: Path) -> float:
    for leftover in ("m.bin",):
        (out / leftover).unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--size", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="perfop-overhead-"))
    try:
        workloads = {}
        for name, source in (("loop-heavy", LOOP), ("call-heavy", CALLS)):
            script = tmp / f"{name}.py"
            script.write_text(source.format(size=args.size))
            workloads[name] = variants(script, tmp)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for wl, table in workloads.items():
                order = list(table)
                rng.shuffle(order)
                for variant in order:
                    times.setdefault((wl, variant), []).append(wall(table[variant], tmp))
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
        )
        print(f"rounds: {args.rounds}, size {args.size}\n")
        print(
            "| workload | unprofiled (median s) | "
            + " | ".join(f"{v} ratio" for v in next(iter(workloads.values())) if v != "none")
            + " |"
        )
        print("|---" * (len(next(iter(workloads.values()))) + 1) + "|")
        for wl, table in workloads.items():
            base = statistics.median(times[(wl, "none")])
            cells = [
                f"{statistics.median(times[(wl, v)]) / base:.2f}" for v in table if v != "none"
            ]
            print(f"| {wl} | {base:.3f} | " + " | ".join(cells) + " |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
