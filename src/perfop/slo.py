"""Pure SLO checks: one SLO bound against the values of one metric over a set of samples.

``check_slo(slo, values)`` computes the SLO's statistic (median, mean, p90, p95, p99, max, min)
with ``perfop.stats.summarize`` and compares it with ``max`` / ``min``. No I/O; callers pass the
metric values (e.g. the candidate's samples of an A/B comparison).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from perfop.stats import summarize


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


@dataclass(frozen=True)
class SLOResult:
    """Outcome of one SLO: ``passed`` is None when there were no values to judge."""

    workload: str
    metric: str
    statistic: str
    value: float | None
    max: float | None
    min: float | None
    n: int
    passed: bool | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_slo(slo: SLOLike, values: Sequence[float]) -> SLOResult:
    """Compare the SLO's statistic over ``values`` with its bounds."""
    label = f"{slo.workload} {slo.metric} {slo.statistic}"
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
        )
    value = summarize(values).statistic(slo.statistic)
    problems = []
    if slo.max is not None and value > slo.max:
        problems.append(f"{value:.6g} > max {slo.max:g}")
    if slo.min is not None and value < slo.min:
        problems.append(f"{value:.6g} < min {slo.min:g}")
    bounds = " ".join(
        b
        for b in (
            f"<= {slo.max:g}" if slo.max is not None else "",
            f">= {slo.min:g}" if slo.min is not None else "",
        )
        if b
    )
    reason = f"{label} = {value:.6g}: " + ("; ".join(problems) if problems else f"within {bounds}")
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
    )


def check_slos(
    slos: Iterable[SLOLike], samples: Mapping[str, Sequence[Mapping[str, float]]]
) -> list[SLOResult]:
    """Check each SLO whose workload has samples; ``samples[workload]`` holds per-sample metrics."""
    results = []
    for slo in slos:
        rows = samples.get(slo.workload)
        if rows is None:
            continue
        values = [float(r[slo.metric]) for r in rows if slo.metric in r]
        results.append(check_slo(slo, values))
    return results
