"""Pure SLO checks: one SLO bound against the values of one metric, at the candidate and at base.

``check_slo(slo, values, base_values=...)`` computes the SLO's statistic (median, mean, p90, p95,
p99, max, min) with ``perfop.stats.summarize`` on both sides, compares it with ``max`` / ``min``
and classifies the result (``SLOResult.state``): met, still not met (base breached it too and the
candidate is no worse), newly broken, made worse, or not trusted (breached while the machine was
highly contended; absolute values measured under load say little about the code). No I/O:
callers pass the metric values and the contention they read (``measured_contention``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from perfop.model import BUILTIN_METRICS

# The result's record (what validate and the gate store, and every reader loads) lives below the
# store, in perfop.records.evidence.
from perfop.records.evidence import SLOResult as SLOResult
from perfop.records.evidence import SLOState as SLOState
from perfop.stats import summarize

# States that are a regression of the candidate, and states that are a residual risk only.
REGRESSION_STATES: frozenset[str] = frozenset({"newly broken", "made worse"})
RISK_STATES: frozenset[str] = frozenset({"still not met", "not trusted"})
# A load average above this many runnable processes per logical core means other processes
# queue for the CPU with ours: absolute timings (not interleaved ratios) are then distorted.
HIGH_LOAD_PER_CORE = 1.0


class SLOLike(Protocol):
    """Anything with the fields of ``perfop.config.SLOConfig``."""

    @property
    def workload(self) -> str: ...
    @property
    def metric(self) -> str: ...
    @property
    def statistic(self) -> str: ...
    @property
    def max(self) -> float | None: ...
    @property
    def min(self) -> float | None: ...
    @property
    def unit(self) -> str | None: ...


@dataclass(frozen=True)
class Contention:
    """How busy the machine was during a measurement: ``high`` makes absolute values untrusted."""

    high: bool
    summary: str  # e.g. "load 6.1 on 2 cores"


def measured_contention(
    environment: Mapping[str, Any] | None, recorded: Mapping[str, Any] | None = None
) -> Contention | None:
    """Contention of a measurement: from its ``perfop.measure.contention`` summary (``recorded``,
    the one sampled during the pairs) when there is one, else the load average per logical core of
    its stored environment row (None when neither says anything). The one place SLO checks
    learn about contention."""
    level = (recorded or {}).get("level")
    if recorded and level in ("quiet", "busy", "high"):
        reasons = ", ".join(str(r) for r in recorded.get("reasons") or ())
        load = (recorded.get("load") or {}).get("median")
        text = reasons or (f"load {load:.1f} on {recorded.get('cpus')} CPUs" if load else level)
        return Contention(level == "high", text)
    if not environment:
        return None
    load_avg = environment.get("load_average")
    cores = (environment.get("cpu") or {}).get("logical_cores")
    if not load_avg or not isinstance(cores, int) or cores < 1:
        return None
    one_minute = float(load_avg[0])
    return Contention(
        one_minute / cores > HIGH_LOAD_PER_CORE, f"load {one_minute:.1f} on {cores} cores"
    )


def _digits(x: float) -> str:
    """Three significant digits, keeping trailing zeros (1.00, 2.78, 49.1, 250)."""
    magnitude = abs(x)
    if magnitude >= 100 or magnitude == 0:
        return f"{x:.0f}"
    if magnitude >= 10:
        return f"{x:.1f}"
    if magnitude >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def format_slo_value(value: float, unit: str) -> str:
    """``2.78 s``, ``250 ms``, ``1.00 s``, ``48.0 MiB``, ``1234 req/s``: a value with its unit."""
    if unit == "s":
        magnitude = abs(value)
        for scale, suffix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
            if magnitude >= scale:
                return f"{_digits(value / scale)} {suffix}"
        return f"{_digits(value / 1e-9)} ns" if value else "0 s"
    if unit == "B":
        for scale, suffix in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(value) >= scale:
                return f"{_digits(value / scale)} {suffix}"
        return f"{value:.0f} B"
    return f"{_digits(value)} {unit}".rstrip()


def slo_unit(slo: SLOLike) -> str:
    """The SLO's unit: its own, else the built-in metric's (wall_time: s), else none."""
    return slo.unit or BUILTIN_METRICS.get(slo.metric, ("", "lower"))[0]


def _breaches(value: float, slo: SLOLike) -> list[str]:
    unit = slo_unit(slo)
    problems = []
    if slo.max is not None and value > slo.max:
        problems.append(f"> max {format_slo_value(slo.max, unit)}")
    if slo.min is not None and value < slo.min:
        problems.append(f"< min {format_slo_value(slo.min, unit)}")
    return problems


def _classify(
    slo: SLOLike, value: float, base_value: float | None, contention: Contention | None
) -> SLOState:
    if not _breaches(value, slo):
        return "met"
    if contention is not None and contention.high:
        return "not trusted"
    if base_value is None:
        return "newly broken"  # nothing shows base breached it: count it against the candidate
    if not _breaches(base_value, slo):
        return "newly broken"
    worse = (slo.max is not None and value > base_value) or (
        slo.max is None and slo.min is not None and value < base_value
    )
    return "made worse" if worse else "still not met"


def check_slo(
    slo: SLOLike,
    values: Sequence[float],
    *,
    base_values: Sequence[float] = (),
    contention: Contention | None = None,
) -> SLOResult:
    """Check the SLO's statistic over the candidate's ``values`` (and base's, to classify it)."""
    label = f"{slo.workload} {slo.metric} {slo.statistic}"
    unit = slo_unit(slo)
    if not values:
        return SLOResult(
            slo.workload,
            slo.metric,
            slo.statistic,
            None,
            slo.max,
            slo.min,
            0,
            None,
            f"{label}: no samples to check",
            unit=unit,
            state="no data",
        )
    value = summarize(values).statistic(slo.statistic)
    base_value = summarize(base_values).statistic(slo.statistic) if base_values else None
    problems = _breaches(value, slo)
    state = _classify(slo, value, base_value, contention)
    bounds = [
        *([f"<= max {format_slo_value(slo.max, unit)}"] if slo.max is not None else []),
        *([f">= min {format_slo_value(slo.min, unit)}"] if slo.min is not None else []),
    ]
    reason = f"{label} {format_slo_value(value, unit)} " + (
        ", ".join(problems) if problems else ", ".join(bounds)
    )
    if base_value is not None:
        reason += f" (base {format_slo_value(base_value, unit)})"
    high = contention is not None and contention.high
    if state == "not trusted" and contention is not None:
        reason += f"; measured under high contention ({contention.summary}): not trusted"
    return SLOResult(
        slo.workload,
        slo.metric,
        slo.statistic,
        value,
        slo.max,
        slo.min,
        len(values),
        not problems,
        reason,
        unit=unit,
        base_value=base_value,
        base_passed=None if base_value is None else not _breaches(base_value, slo),
        state=state,
        contention=contention.summary if high and contention is not None else None,
    )


def check_slos(
    slos: Iterable[SLOLike],
    samples: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    base_samples: Mapping[str, Sequence[Mapping[str, float]]] | None = None,
    contention: Mapping[str, Contention | None] | None = None,
) -> list[SLOResult]:
    """Check each SLO whose workload has samples; ``samples[workload]`` holds per-sample metrics
    of the candidate, ``base_samples[workload]`` base's, ``contention[workload]`` how busy the
    machine was while they were measured."""
    results = []
    for slo in slos:
        rows = samples.get(slo.workload)
        if rows is None:
            continue
        values = [float(r[slo.metric]) for r in rows if slo.metric in r]
        base_rows = (base_samples or {}).get(slo.workload) or ()
        base_values = [float(r[slo.metric]) for r in base_rows if slo.metric in r]
        results.append(
            check_slo(
                slo,
                values,
                base_values=base_values,
                contention=(contention or {}).get(slo.workload),
            )
        )
    return results
