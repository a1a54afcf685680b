"""Simulation of perfop's verdict rule: A/A false verdicts under optional stopping, and power.

Run: ``.venv/bin/python benchmarks/stats_simulation.py [--rows 20000]`` (prints Markdown tables
for docs/statistics.md, section 7). Every comparison goes through the same ``plan`` and the same
look-by-look stopping a real ``perfop compare`` runs; the noise models are those of
tests/unit/test_stats_simulation.py (imported from there, so the test and this script cannot
drift apart). Three rules are compared on the same draws:

- ``rule``: today's ``stats.decide`` (exact one-sided signed-rank confirmation at alpha;
  equivalence as two one-sided tests, ``SequentialDesign.eq_bounds``);
- ``before``: the rule before issue 14 (two-sided normal-approximation signed-rank at alpha,
  df = h - 1, boundaries at 0.85 alpha), kept here only for the comparison;
- ``interval``: the trimmed-mean repeated interval alone (no rank or Hodges-Lehmann check).

and, for issue 14 point 8b, the **CPU-time rule** (``stats.decide_checked``: ``decide`` on CPU
time, a verdict kept only where wall time's interval overlaps): in the A/A table its CPU-time
log-ratios are each noise model's draws and its wall-time ones those plus an independent
shared-VM draw (the waiting); a last table puts a CPU-bound workload on the shared VM (CPU time
with 1% Gaussian noise per pair, wall time that plus the shared-VM noise) and shows what deciding
on CPU time buys over deciding on wall time.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import norm

from perfop import stats

ROOT = Path(__file__).resolve().parent.parent
ALPHA = 0.05
Decide = Callable[..., np.ndarray]


def _noise_models() -> tuple[Callable[..., np.ndarray], dict[str, dict[str, float]]]:
    path = ROOT / "tests" / "unit" / "test_stats_simulation.py"
    spec = importlib.util.spec_from_file_location("perfop_noise_models", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.simulate_log_ratios, module.SCENARIOS


def decide_before(
    x: np.ndarray, *, z_bound: float, threshold: float, alpha: float, trim: float
) -> np.ndarray:
    """The rule before issue 14: two-sided normal-approximation signed-rank check at alpha,
    Tukey-McLaughlin df = h - 1, boundaries at 0.85 alpha."""
    delta = math.log1p(threshold)
    mean, se, df = stats.trimmed_mean_se(x, trim)
    half = stats.t_bound(z_bound, df) * se
    lo, hi = mean - half, mean + half
    z = stats.signed_rank_z(x)
    crit = float(norm.isf(alpha / 2))
    up = (lo > 0) & (mean > delta) & (z >= crit) & stats.hodges_lehmann_above(x, delta)
    down = (hi < 0) & (mean < -delta) & (z <= -crit) & stats.hodges_lehmann_above(-x, delta)
    eq = (lo > -delta) & (hi < delta)
    return np.where(up, 1, np.where(down, -1, np.where(eq, 2, 0)))


def decide_interval(
    x: np.ndarray, *, z_bound: float, threshold: float, alpha: float, trim: float
) -> np.ndarray:
    """The trimmed-mean repeated interval alone (as the rule computes it)."""
    delta = math.log1p(threshold)
    mean, se, _ = stats.trimmed_mean_se(x, trim)
    half = stats.t_bound(z_bound, stats.interval_df(x.shape[-1], trim)) * se
    lo, hi = mean - half, mean + half
    up, down = (lo > 0) & (mean > delta), (hi < 0) & (mean < -delta)
    eq = (lo > -delta) & (hi < delta)
    return np.where(up, 1, np.where(down, -1, np.where(eq, 2, 0)))


def run(design: stats.SequentialDesign, x: np.ndarray, decide: Decide) -> tuple[np.ndarray, ...]:
    """``stats.run_sequential`` with the decision function as a parameter (today's rule gets the
    design's equivalence boundaries; the others decide equivalence at the directional one)."""
    codes = np.zeros(x.shape[0], dtype=int)
    used = np.full(x.shape[0], design.max_pairs, dtype=int)
    open_rows = np.arange(x.shape[0])
    for k, (n, zb) in enumerate(zip(design.looks, design.z_bounds, strict=True)):
        if open_rows.size == 0:
            break
        extra = {"z_eq": design.eq_bound(k)} if decide is stats.decide else {}
        got = decide(
            x[open_rows, :n],
            z_bound=zb,
            threshold=design.threshold,
            alpha=design.alpha,
            trim=design.trim,
            **extra,
        )
        done = got != 0
        codes[open_rows[done]] = got[done]
        used[open_rows[done]] = n
        open_rows = open_rows[~done]
    return codes, used


def run_checked(
    design: stats.SequentialDesign, x_cpu: np.ndarray, x_wall: np.ndarray
) -> tuple[np.ndarray, ...]:
    """``run`` for the CPU-time rule: CPU-time rows decided, wall-time rows checking them."""
    codes = np.zeros(x_cpu.shape[0], dtype=int)
    used = np.full(x_cpu.shape[0], design.max_pairs, dtype=int)
    open_rows = np.arange(x_cpu.shape[0])
    for k, (n, zb) in enumerate(zip(design.looks, design.z_bounds, strict=True)):
        if open_rows.size == 0:
            break
        got = stats.decide_checked(
            x_cpu[open_rows, :n],
            x_wall[open_rows, :n],
            z_bound=zb,
            threshold=design.threshold,
            alpha=design.alpha,
            trim=design.trim,
            z_eq=design.eq_bound(k),
        )
        done = got != 0
        codes[open_rows[done]] = got[done]
        used[open_rows[done]] = n
        open_rows = open_rows[~done]
    return codes, used


@functools.lru_cache(maxsize=64)
def designs(threshold: float, pairs: int) -> dict[str, stats.SequentialDesign]:
    """The design each rule runs with (the old rule's boundaries were at 0.85 alpha)."""
    now = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    saved = stats.ALPHA_MARGIN
    try:
        stats.ALPHA_MARGIN = 0.85
        before = stats.plan(alpha=ALPHA, threshold=threshold, first=5, max_pairs=pairs)
    finally:
        stats.ALPHA_MARGIN = saved
    return {"rule": now, "before": before, "interval": now}


RULES: dict[str, Decide] = {
    "rule": stats.decide,
    "before": decide_before,
    "interval": decide_interval,
}
AA_BUDGETS = ((1e-4, 300), (0.01, 300), (0.02, 40), (0.02, 24), (0.02, 10), (1e-4, 10))
POWER_BUDGETS = ((0.02, 10), (0.02, 20), (0.02, 30))


AA_RULES = ("rule", "before", "interval", "cpu")
AA_HEADS = {
    "rule": "rule",
    "before": "before issue 14",
    "interval": "interval alone",
    "cpu": "CPU-time rule, wall-checked",
}


def aa_cell(
    name: str, threshold: float, pairs: int, rows: int, rules: tuple[str, ...]
) -> tuple[list[float], list[str]]:
    """One A/A cell: (false-verdict rates, table cells) of each rule on the same draws."""
    simulate, scenarios = _noise_models()
    rng = np.random.default_rng(20_000 + pairs + int(threshold * 1e4))
    x = simulate(rng, rows, pairs, 0.0, **scenarios[name])
    rates, cells = [], []
    for rule in rules:
        design = designs(threshold, pairs)["rule" if rule == "cpu" else rule]
        if rule == "cpu":
            wait = simulate(np.random.default_rng(40_000 + pairs), rows, pairs, 0.0)
            codes, _ = run_checked(design, x, x + wait)
        else:
            codes, _ = run(design, x, RULES[rule])
        rates.append(float(np.mean(np.abs(codes) == 1)))
        cells.append(f"{rates[-1]:.2%} ({np.mean(codes == 2):.0%})")
    return rates, cells


def aa_table(rows: int, rules: tuple[str, ...] = AA_RULES, jobs: int = 1) -> None:
    from concurrent.futures import ProcessPoolExecutor

    _, scenarios = _noise_models()
    print(f"A/A, alpha {ALPHA}, {rows:,} comparisons per cell: false verdicts (share unchanged)\n")
    print("| noise model | threshold, budget | " + " | ".join(AA_HEADS[r] for r in rules) + " |")
    print("|---|---|" + "---:|" * len(rules))
    cells = [(n, t, p) for n in scenarios for t, p in AA_BUDGETS]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(aa_cell, n, t, p, rows, rules) for n, t, p in cells]
        worst = 0.0
        for (name, threshold, pairs), fut in zip(cells, futures, strict=True):
            rates, texts = fut.result()
            worst = max([worst, *(r for r, k in zip(rates, rules, strict=True) if k != "before")])
            print(f"| {name} | {threshold:.2%}, {pairs} pairs | " + " | ".join(texts) + " |")
            sys.stdout.flush()
    print(f"\nworst false-verdict rate of today's rules (not 'before'): {worst:.2%}\n")


def power_table(rows: int) -> None:
    simulate, scenarios = _noise_models()
    print(f"Power, alpha {ALPHA}, {rows:,} comparisons per cell: detected (median pairs)\n")
    print(
        "| noise model | slowdown | threshold, budget | rule | before issue 14 | interval alone |"
    )
    print("|---|---:|---|---:|---:|---:|")
    for name in ("shared-vm", "gaussian"):
        for effect in (0.03, 0.10):
            for threshold, pairs in POWER_BUDGETS:
                rng = np.random.default_rng(30_000 + pairs + int(effect * 100))
                x = simulate(rng, rows, pairs, effect, **scenarios[name])
                cells = []
                for rule, design in designs(threshold, pairs).items():
                    codes, used = run(design, x, RULES[rule])
                    hit = codes == stats.INCREASE
                    wrong = int(np.sum(codes == stats.DECREASE))
                    med = f"{np.median(used[hit]):.0f}" if hit.any() else "-"
                    cells.append(
                        f"{hit.mean():.1%} ({med})" + (f", {wrong} wrong" if wrong else "")
                    )
                print(
                    f"| {name} | {effect:.0%} | {threshold:.0%}, {pairs} pairs | "
                    + " | ".join(cells)
                    + " |"
                )
                sys.stdout.flush()
    print()


CPU_SD = 0.01  # CPU time's noise per pair of a CPU-bound workload (Gaussian, log scale)


def cpu_table(rows: int) -> None:
    """A CPU-bound workload on the shared VM: deciding on wall time vs on CPU time."""
    simulate, _ = _noise_models()
    print(
        f"CPU-bound workload, CPU time {CPU_SD:.0%} Gaussian noise per pair, wall time that plus "
        f"the shared-VM noise; alpha {ALPHA}, {rows:,} comparisons per cell\n"
    )
    print(
        "| change | threshold, budget | wall time decides: slower / unchanged / false "
        "| CPU-time rule: slower / unchanged / false |"
    )
    print("|---:|---|---|---|")
    for effect in (0.0, 0.03, 0.10):
        for threshold, pairs in POWER_BUDGETS:
            rng = np.random.default_rng(50_000 + pairs + int(effect * 100))
            x_cpu = rng.normal(math.log1p(effect), CPU_SD, (rows, pairs))
            x_wall = x_cpu + simulate(rng, rows, pairs, 0.0)
            design = designs(threshold, pairs)["rule"]
            cells = []
            runs = (run(design, x_wall, stats.decide), run_checked(design, x_cpu, x_wall))
            for codes, used in runs:
                hit = codes == stats.INCREASE
                # false: any direction at 0%, the wrong direction otherwise
                false = np.abs(codes) == 1 if effect == 0 else codes == stats.DECREASE
                med = f" ({np.median(used[hit]):.0f})" if hit.any() and effect else ""
                slower = "-" if effect == 0 else f"{hit.mean():.1%}{med}"
                cells.append(
                    f"{slower} / {np.mean(codes == stats.EQUIVALENT):.1%} / {false.mean():.2%}"
                )
            print(f"| {effect:.0%} | {threshold:.0%}, {pairs} pairs | " + " | ".join(cells) + " |")
            sys.stdout.flush()
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="A/A comparisons per cell")
    parser.add_argument("--power-rows", type=int, default=5_000, help="comparisons per power cell")
    parser.add_argument(
        "--rules",
        default=",".join(AA_RULES),
        help="A/A columns: rule, before, interval, cpu (comma-separated; all by default)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes for the A/A cells")
    parser.add_argument("--no-power", action="store_true", help="only the A/A and CPU tables")
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
        f", load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}\n"
    )
    start = time.perf_counter()
    aa_table(args.rows, tuple(args.rules.split(",")), args.jobs)
    if not args.no_power:
        power_table(args.power_rows)
    cpu_table(args.power_rows)
    load = os.getloadavg()
    print(f"took {time.perf_counter() - start:.0f} s; load at the end {load[0]:.1f}")


if __name__ == "__main__":
    main()
