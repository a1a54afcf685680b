"""How noisy is this machine's CPU itself? The floor under every A/B verdict measured on it.

perfop decides CPU-bound comparisons on CPU time (user+sys), which waiting for a CPU does not
inflate. What is left is the speed of the CPU while the code runs: on a shared VM it changes
with the host's other tenants, frequency and cache contention, and no tool running inside the
VM can remove that. This script measures it three ways, each as the spread of the log ratio of
consecutive measurements taken as pairs (the quantity a paired A/B test divides by):

- ``in-process``: one pure-Python loop of ``--loop-ms`` timed back to back inside one process
  (``time.process_time``): no process start, no scheduler hand-off, only the CPU's speed;
- ``process``: the same loop as its own ``python -S`` process, CPU time of the child from
  ``os.wait4``, as perfop measures a command workload;
- ``pinned``: the same, pinned to one CPU (``os.sched_setaffinity``), to show what CPU affinity
  buys here.

Spreads are the robust standard deviation (1.4826 x MAD) and the plain standard deviation; their
gap shows the heavy tails. The load average and the CPU model are printed with them.

    python benchmarks/machine_noise.py                # 60 pairs of a ~40 ms loop
    python benchmarks/machine_noise.py --pairs 200 --loop-ms 40 --out F
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _doc import cpu_model  # benchmarks/_doc.py (scripts run from benchmarks/)

PY = sys.executable
LOOP = """\
import sys, time
N = int(sys.argv[1])


def run():
    s = 0
    for i in range(N):
        s += i * i % 7
    return s


if len(sys.argv) > 2:
    out = []
    for _ in range(int(sys.argv[2])):
        t = time.process_time()
        run()
        out.append(time.process_time() - t)
    print(" ".join(repr(x) for x in out))
else:
    run()
"""


def spread(values: list[float]) -> dict[str, float]:
    """Robust and plain standard deviation of the log ratios of consecutive pairs."""
    logs = [math.log(values[i + 1] / values[i]) for i in range(0, len(values) - 1, 2)]
    med = statistics.median(logs)
    mad = statistics.median(abs(x - med) for x in logs)
    return {
        "pairs": len(logs),
        "robust_sd": round(1.4826 * mad, 4),
        "sd": round(statistics.stdev(logs), 4),
        "median_s": round(statistics.median(values), 4),
    }


def child_cpu(script: Path, n: int, cpu: int | None) -> float:
    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    proc = subprocess.Popen([PY, "-S", str(script), str(n)], preexec_fn=pin)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{script}: the loop failed")
    return usage.ru_utime + usage.ru_stime


def calibrate(script: Path, loop_ms: float) -> int:
    """Iterations for a loop of about ``loop_ms`` of CPU time, timed in-process."""
    out = subprocess.run(
        [PY, "-S", str(script), "200000", "5"], capture_output=True, text=True, check=True
    )
    per = statistics.median(float(x) for x in out.stdout.split()) / 200_000
    return max(10_000, int(loop_ms / 1000 / per))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--loop-ms", type=float, default=40.0)
    ap.add_argument("--out", type=Path, help="append one JSON line here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="perfop-noise-") as tmp:
        script = Path(tmp) / "loop.py"
        script.write_text(LOOP)
        n = calibrate(script, args.loop_ms)
        count = 2 * args.pairs
        load_before = os.getloadavg()[0]
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        inproc = subprocess.run(
            [PY, "-S", str(script), str(n), str(count)], capture_output=True, text=True, check=True
        )
        rows = {"in-process": spread([float(x) for x in inproc.stdout.split()])}
        rows["process"] = spread([child_cpu(script, n, None) for _ in range(count)])
        cpus = sorted(os.sched_getaffinity(0))
        rows["pinned"] = spread([child_cpu(script, n, cpus[-1]) for _ in range(count)])
        load_after = os.getloadavg()[0]
    machine = f"{cpu_model()}, {os.cpu_count()} logical CPUs"
    record = {
        "machine": f"{machine}, Python {platform.python_version()}",
        "started": started,
        "load": [round(load_before, 2), round(load_after, 2)],
        "loop_ms": args.loop_ms,
        "iterations": n,
        "spread": rows,
    }
    print(f"{record['machine']}; load {load_before:.2f}-{load_after:.2f}; {started} UTC")
    print("| measured as | pairs | median CPU (s) | robust sd of log ratio | sd of log ratio |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['pairs']} | {r['median_s']} | {r['robust_sd']} | {r['sd']} |")
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
