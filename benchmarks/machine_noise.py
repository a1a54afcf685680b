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

``--trace S`` adds where the noise comes from: one process pinned to each CPU, both at once,
times ~``--chunk-ms`` slices of the loop for S seconds. Per CPU: the fast and slow speeds (10th
and 90th percentile of a slice's CPU time), the share of slices in the slow state (over 1.25x the
fast one) and how long a slow spell lasts; across CPUs, the correlation of their speeds in
0.25 s bins (near 0: each CPU's speed moves on its own, so nothing measured on one CPU can
correct the other's).

``--verdicts`` adds what the process spread costs a verdict under perfop's own decision rule:
A/A comparisons drawn (with replacement) from the measured process pairs' log ratios, decided
by ``perfop.stats`` at one look of n pairs, for several n: the share that reach ``unchanged``
within +/-``--threshold``, and the seconds n pairs of this loop take.

    python benchmarks/machine_noise.py                # 60 pairs of a ~40 ms loop
    python benchmarks/machine_noise.py --pairs 200 --loop-ms 40 --out F
    python benchmarks/machine_noise.py --pairs 100 --loop-ms 130 --trace 20 --verdicts
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
from typing import Any

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

TRACE = """\
import json, os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
n, end, out = int(sys.argv[2]), time.time() + float(sys.argv[3]), []
while time.time() < end:
    t, c = time.time(), time.process_time()
    s = 0
    for i in range(n):
        s += i * i % 7
    out.append((t, time.process_time() - c))
print(json.dumps(out))
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


def trace(seconds: float, chunk_iters: int) -> dict[str, Any]:
    """Speed over time on every CPU at once: fast/slow speeds, slow share and spells, and the
    correlation between CPUs (module docstring)."""
    cpus = sorted(os.sched_getaffinity(0))
    procs = [
        subprocess.Popen(
            [PY, "-S", "-c", TRACE, str(cpu), str(chunk_iters), str(seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for cpu in cpus
    ]
    series = [json.loads(p.communicate()[0]) for p in procs]
    per_cpu = {}
    for cpu, rows in zip(cpus, series, strict=True):
        times = sorted(dt for _, dt in rows)
        fast, slow = times[len(times) // 10], times[(9 * len(times)) // 10]
        is_slow = [dt > 1.25 * fast for _, dt in rows]
        spells, run = [], 0
        for flag in is_slow:
            if flag:
                run += 1
            elif run:
                spells.append(run)
                run = 0
        per_cpu[str(cpu)] = {
            "slices": len(rows),
            "fast_ms": round(1000 * fast, 2),
            "slow_ms": round(1000 * slow, 2),
            "slow_over_fast": round(slow / fast, 2),
            "slow_share": round(sum(is_slow) / len(rows), 2),
            "median_slow_spell_s": round(statistics.median(spells) * times[len(times) // 2], 3)
            if spells
            else 0,
        }
    corr = None
    if len(series) >= 2:
        start = max(rows[0][0] for rows in series)

        def bins(rows: list[list[float]]) -> dict[int, float]:
            out: dict[int, list[float]] = {}
            for t, dt in rows:
                if t >= start:
                    out.setdefault(int((t - start) / 0.25), []).append(math.log(dt))
            return {k: statistics.median(v) for k, v in out.items()}

        a, b = bins(series[0]), bins(series[1])
        keys = sorted(set(a) & set(b))
        if len(keys) > 2:
            corr = round(statistics.correlation([a[k] for k in keys], [b[k] for k in keys]), 3)
    slice_ms = 1000 * statistics.median(dt for rows in series for _, dt in rows)
    return {"seconds": seconds, "slice_ms": round(slice_ms, 1), "cpus": per_cpu, "corr": corr}


def verdict_cost(values: list[float], threshold: float) -> list[dict[str, float]]:
    """Share of A/A comparisons that perfop's rule calls ``unchanged`` at n pairs, drawn from
    the measured pairs (module docstring)."""
    import numpy as np

    from perfop import stats

    logs = np.log(np.asarray(values[1::2]) / np.asarray(values[0:-1:2]))
    rng = np.random.default_rng(8)
    pair_s = 2 * statistics.median(values)
    rows = []
    for n in (30, 60, 120, 240, 480):
        design = stats.plan(alpha=0.05, threshold=threshold, looks=(n,))
        codes, _ = stats.run_sequential(design, rng.choice(logs, size=(2000, n)))
        rows.append(
            {
                "pairs": n,
                "unchanged": round(float(np.mean(codes == stats.EQUIVALENT)), 3),
                "false_verdict": round(float(np.mean((codes == 1) | (codes == -1))), 3),
                "seconds": round(n * pair_s, 1),
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=60)
    ap.add_argument("--loop-ms", type=float, default=40.0)
    ap.add_argument("--out", type=Path, help="append one JSON line here")
    ap.add_argument("--trace", type=float, default=0.0, metavar="S", help="speed trace seconds")
    ap.add_argument("--chunk-ms", type=float, default=20.0)
    ap.add_argument("--verdicts", action="store_true", help="what the spread costs a verdict")
    ap.add_argument("--threshold", type=float, default=0.02)
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
        process = [child_cpu(script, n, None) for _ in range(count)]
        rows["process"] = spread(process)
        cpus = sorted(os.sched_getaffinity(0))
        rows["pinned"] = spread([child_cpu(script, n, cpus[-1]) for _ in range(count)])
        chunk = int(n * args.chunk_ms / args.loop_ms)
        traced = trace(args.trace, chunk) if args.trace > 0 else None
        load_after = os.getloadavg()[0]
    machine = f"{cpu_model()}, {os.cpu_count()} logical CPUs"
    record = {
        "machine": f"{machine}, Python {platform.python_version()}",
        "started": started,
        "load": [round(load_before, 2), round(load_after, 2)],
        "loop_ms": args.loop_ms,
        "iterations": n,
        "spread": rows,
        "trace": traced,
        "verdicts": verdict_cost(process, args.threshold) if args.verdicts else None,
    }
    print(f"{record['machine']}; load {load_before:.2f}-{load_after:.2f}; {started} UTC")
    print("| measured as | pairs | median CPU (s) | robust sd of log ratio | sd of log ratio |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['pairs']} | {r['median_s']} | {r['robust_sd']} | {r['sd']} |")
    if traced:
        print(
            f"\nspeed trace, {args.trace:.0f} s, slices of {traced['slice_ms']} ms (median), "
            "all CPUs at once:"
        )
        print(
            "| CPU | slices | fast (ms) | slow (ms) | slow/fast | slow share | median slow spell |"
        )
        print("|---|---|---|---|---|---|---|")
        for cpu, t in traced["cpus"].items():
            print(
                f"| {cpu} | {t['slices']} | {t['fast_ms']} | {t['slow_ms']} | "
                f"{t['slow_over_fast']}x | {t['slow_share']:.0%} | {t['median_slow_spell_s']} s |"
            )
        print(f"correlation of the CPUs' speeds (0.25 s bins): {traced['corr']}")
    if record["verdicts"]:
        print(
            f"\nA/A comparisons of this loop as processes, perfop's rule, +/-{args.threshold:.0%}:"
        )
        print("| pairs | reach `unchanged` | false verdicts | seconds of pairs |")
        print("|---|---|---|---|")
        for v in record["verdicts"]:  # type: ignore[union-attr]
            print(
                f"| {v['pairs']} | {v['unchanged']:.0%} | {v['false_verdict']:.1%} | "
                f"{v['seconds']} |"
            )
    if args.out:
        with args.out.open("a") as fh:
            fh.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
