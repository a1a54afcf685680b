"""Cost of perfop's contention sampling (``perfop.measure.contention``) per sample and per snapshot.

A ``Monitor`` adds, after each measured process (or pair), one ``time.monotonic()`` call and
every ``MIN_INTERVAL`` seconds one snapshot (three small /proc reads and ``getrusage``); none of it
runs while a process is timed. This times both many times and reports medians, with the
per-sample cost at a 1 ms sample (snapshots amortised over the samples of one interval). The
result goes under "## Contention sampling overhead" in docs/benchmarks.md.

    python benchmarks/contention_overhead.py [--repeat 20000] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from perfop.measure import contention as cn

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Contention sampling overhead"


def _time_each(fn: Callable[[], object], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    snap = statistics.median(_time_each(cn.take_snapshot, args.repeat))
    m = cn.Monitor(min_interval=3600.0)
    m.start()
    add = statistics.median(_time_each(lambda: m.add(0.001), args.repeat))
    per_interval = cn.MIN_INTERVAL / 1e-3  # 1 ms samples: this many share one snapshot
    per_sample = add + snap / per_interval
    load = os.getloadavg()[0]
    text = "\n".join(
        [
            HEADING,
            "",
            f"`python benchmarks/contention_overhead.py --repeat {args.repeat}` on "
            f"{platform.node()} ({os.cpu_count()} CPUs, {platform.python_version()}), load "
            f"{load:.1f}, {time.strftime('%Y-%m-%d')}:",
            "",
            "| what | median |",
            "|---|---|",
            f"| one snapshot (/proc/stat, /proc/loadavg, /proc/pressure/cpu, getrusage) | "
            f"{snap:.1f} µs |",
            f"| `Monitor.add` after a process, no snapshot due | {add:.2f} µs |",
            f"| per sample at 1 ms samples (one snapshot per {cn.MIN_INTERVAL} s) | "
            f"{per_sample:.2f} µs |",
            "",
            "None of it runs while a process is timed (it sits between samples or pairs), so it "
            "cannot move a measured value; it adds this much to the loop around them, against a "
            "harness cost of about 1 ms per sample (see Harness overhead).",
            "",
        ]
    )
    print(text)
    if args.no_write:
        return
    doc = DOC.read_text(encoding="utf-8")
    if HEADING in doc:
        start = doc.index(HEADING)
        nxt = doc.find("\n## ", start + 1)
        doc = doc[:start] + text + (doc[nxt + 1 :] if nxt != -1 else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    DOC.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
