"""Per-benchmark verdicts of a suite comparison, with Benjamini-Hochberg control across them.

Each benchmark is one metric of the suite's samples and is first decided by perfop's own rule
(``pairs.analyse`` -> ``stats.compare_metric``) at the look's boundary. A directional verdict
("faster"/"slower") then stands only if its p-value survives the Benjamini-Hochberg step-up
procedure over all compared benchmarks at the look's nominal level; it is decided again at the
stricter level BH allows (one boundary for all), so a benchmark BH rejects keeps its verdict
and interval and one it does not becomes inconclusive. Equivalence ("unchanged") is left as
decided. docs/statistics.md ("Suites") gives the argument and its limits.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfop.compare.pairs import MetricResult, analyse
from perfop.model import BUILTIN_METRICS, MetricSpec, ProcessResult, Verdict
from perfop.stats import SequentialDesign, min_pairs_for_verdict, plan


@dataclass(frozen=True)
class BenchmarkVerdict:
    """One benchmark of a suite comparison: compared (``metric``), or why it could not be."""

    name: str
    status: str  # compared | failed on base | failed on candidate | missing on base | missing ...
    metric: MetricResult | None = None
    reason: str = ""
    bh_downgraded: bool = False  # directional at the look's level, not after BH
    fails_gate: bool = False

    @property
    def verdict(self) -> Verdict | None:
        return self.metric.verdict if self.metric is not None else None

    @property
    def effect(self) -> float:
        """|log ratio|, for sorting; not compared first."""
        if self.metric is None or not math.isfinite(self.metric.analysis.ratio):
            return math.inf
        return abs(math.log(self.metric.analysis.ratio))


@dataclass(frozen=True)
class SuiteOutcome:
    """Every benchmark's verdict, largest effect first (failed and missing ones on top)."""

    benchmarks: tuple[BenchmarkVerdict, ...]
    level: float  # the per-benchmark two-sided level BH allowed at the final look
    look_level: float  # the look's own nominal level (q of BH)

    @property
    def failing(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.benchmarks if b.fails_gate)

    @property
    def verdict(self) -> Verdict:
        """The suite's verdict: slower if any benchmark is, else inconclusive if any is, else
        faster if any is, else unchanged."""
        got = [b.verdict for b in self.benchmarks if b.verdict is not None]
        broken = any(b.status != "compared" for b in self.benchmarks)
        if Verdict.SLOWER in got:
            return Verdict.SLOWER
        if Verdict.INCONCLUSIVE in got or broken or not got:
            return Verdict.INCONCLUSIVE
        if Verdict.FASTER in got:
            return Verdict.FASTER
        return Verdict.UNCHANGED

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.benchmarks:
            key = b.verdict.value if b.verdict is not None else b.status
            out[key] = out.get(key, 0) + 1
        return out


def benchmark_names(results: Sequence[ProcessResult]) -> list[str]:
    """The metrics of suite samples that are benchmarks (everything but the built-ins)."""
    names: dict[str, None] = {}
    for r in results:
        for n in r.metrics:
            if n not in BUILTIN_METRICS:
                names.setdefault(n)
    return list(names)


def bh_level(p_values: Sequence[float], q: float) -> float:
    """The Benjamini-Hochberg step-up cutoff: k*q/m for the largest k with p_(k) <= k*q/m,
    or q/m when none qualifies (then nothing is rejected at it either)."""
    m = len(p_values)
    if m == 0:
        return q
    ps = sorted(p if math.isfinite(p) else 1.0 for p in p_values)
    k = max((i + 1 for i, p in enumerate(ps) if p <= (i + 1) * q / m), default=1)
    return k * q / m


def _matches(name: str, patterns: Sequence[str] | None) -> bool:
    if patterns is None:
        return True
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


def decide_suite(
    base: Sequence[ProcessResult],
    cand: Sequence[ProcessResult],
    specs: dict[str, MetricSpec],
    *,
    z_bound: float,
    alpha: float,
    threshold: float,
    failed: tuple[dict[str, str], dict[str, str]] = ({}, {}),
    fail_on: Sequence[str] | None = None,
    fail_if_faster: Sequence[str] = (),
) -> SuiteOutcome:
    """Per-benchmark verdicts at one look (``z_bound``), BH-controlled across benchmarks."""
    from scipy.stats import norm

    names = benchmark_names([*base, *cand])
    in_base = {n for r in base for n in r.metrics}
    in_cand = {n for r in cand for n in r.metrics}
    names += [n for side in failed for n in side if n not in names]
    compared = [n for n in names if n in in_base and n in in_cand and n in specs]
    first = {
        m.name: m
        for m in analyse(
            base,
            cand,
            {n: specs[n] for n in compared},
            z_bound=z_bound,
            alpha=alpha,
            threshold=threshold,
        )
    }
    look_level = float(2 * norm.sf(z_bound)) if math.isfinite(z_bound) else 0.0
    level = bh_level([m.analysis.p_value for m in first.values()], look_level)
    strict_z = float(norm.isf(level / 2)) if level > 0 else math.inf
    directional = {n for n, m in first.items() if m.verdict in (Verdict.FASTER, Verdict.SLOWER)}
    strict = {
        m.name: m
        for m in analyse(
            base,
            cand,
            {n: specs[n] for n in directional},
            z_bound=strict_z,
            alpha=alpha,
            threshold=threshold,
        )
    }
    out = []
    for n in names:
        gated = _matches(n, fail_on)
        if n in first:
            m = strict.get(n, first[n])
            fails = gated and (
                m.verdict == Verdict.SLOWER
                or (m.verdict == Verdict.FASTER and _matches(n, fail_if_faster or []))
            )
            down = n in directional and m.verdict not in (Verdict.FASTER, Verdict.SLOWER)
            out.append(BenchmarkVerdict(n, "compared", m, bh_downgraded=down, fails_gate=fails))
            continue
        for side, label, seen in ((1, "candidate", in_cand), (0, "base", in_base)):
            if n not in seen:
                reason = failed[side].get(n, "")
                status = f"failed on {label}" if reason else f"missing on {label}"
                # Gone at the candidate fails a gate; new at the candidate does not.
                out.append(
                    BenchmarkVerdict(n, status, None, reason, fails_gate=gated and side == 1)
                )
                break
    out.sort(key=lambda b: (b.status == "compared", -b.effect, b.name))
    return SuiteOutcome(tuple(out), level=level, look_level=look_level)


SUITE_SPENDING = "obf"


def suite_design(alpha: float, threshold: float, first: int, planned: int) -> SequentialDesign:
    """A suite's looks: after the first batch, then at the planned pairs, with O'Brien-Fleming
    spending. A suite stops early only when every benchmark is settled (equivalence included),
    which the first batch rarely gives, so alpha spent on more interim looks (Pocock, the
    geometric schedule) would mostly be lost; this keeps the last look's level near alpha,
    which Benjamini-Hochberg then divides among the benchmarks (docs/statistics.md, 10)."""
    floor = min_pairs_for_verdict(alpha=alpha)
    first = max(first, min(floor, planned))
    looks = (first, planned) if planned > first else (first,)
    return plan(alpha=alpha, threshold=threshold, looks=looks, spending=SUITE_SPENDING)
