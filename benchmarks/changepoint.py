"""Benchmark of perfop's change-point detection: speed on long histories, false alarms, power.

Run: ``.venv/bin/python benchmarks/changepoint.py`` (prints Markdown tables for docs/benchmarks.md).
"""

from __future__ import annotations

import platform
import time

import numpy as np

from perfop.history.changepoint import detect_change_points


def _best_of(fn: object, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def speed() -> None:
    print("| points | series | time (best of 5) | true shifts | change points found |")
    print("|---:|---|---:|---:|---:|")
    rng = np.random.default_rng(42)
    for n in (1_000, 10_000, 100_000):
        flat = rng.normal(1.0, 0.03, n)
        levels = rng.choice([0.0, 0.05, 0.1], size=n // 500)
        shifts = int(np.count_nonzero(np.diff(levels)))
        steps = flat + np.repeat(levels, 500)[:n]
        cases = (("flat noise (sd 3%)", flat, 0), (f"{n // 500} blocks of 500", steps, shifts))
        for label, x, true in cases:
            found = len(detect_change_points(x))
            elapsed = _best_of(lambda x=x: detect_change_points(x))
            print(f"| {n:,} | {label} | {elapsed * 1000:.1f} ms | {true} | {found} |")


def accuracy(trials: int = 100) -> None:
    print()
    print("| scenario | trials | found within ±2 points | other change points per series |")
    print("|---|---:|---:|---:|")
    for shift, sd, m in ((0.02, 0.02, 30), (0.03, 0.02, 30), (0.05, 0.02, 10), (0.10, 0.03, 5)):
        hits = false = 0
        for seed in range(trials):
            rng = np.random.default_rng(seed)
            x = np.concatenate([rng.normal(1, sd, 100), rng.normal(1 + shift, sd, m)])
            cps = detect_change_points(x)
            hits += any(abs(cp.index - 100) <= 2 for cp in cps)
            false += sum(abs(cp.index - 100) > 2 for cp in cps)
        label = f"+{shift:.0%} shift, sd {sd:.0%}, {m} points after"
        print(f"| {label} | {trials} | {hits / trials:.0%} | {false / trials:.2f} |")
    for n in (100, 1000, 10_000):
        runs = trials if n < 10_000 else 20
        false = sum(
            len(detect_change_points(np.random.default_rng(1000 + s).normal(1, 0.05, n)))
            for s in range(runs)
        )
        print(f"| flat noise, sd 5%, {n:,} points | {runs} | — | {false / runs:.2f} |")
    false = 0
    for s in range(trials):
        rng = np.random.default_rng(2000 + s)
        x = rng.normal(1.0, 0.02, 300)
        x[rng.random(300) < 0.125] *= 1.37  # the slow second cluster seen on shared VMs
        false += len(detect_change_points(x))
    print(f"| 1 in 8 points 37% slower, 300 points | {trials} | — | {false / trials:.2f} |")


if __name__ == "__main__":
    print(f"machine: {platform.machine()} {platform.system()}, Python {platform.python_version()}")
    speed()
    accuracy()
