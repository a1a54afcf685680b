"""CPU time (user+sys) beside wall time: do the two ratios of a comparison tell the same story?

Wall time is computing plus waiting (I/O, sleep, locks, a CPU taken by another process); CPU time
is the computing alone. When their intervals do not overlap the change (or the machine) moved
the waiting: ``cpu_vs_wall`` says which way. Pure: metric results in, a record or text out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from perfop.records.measured import StoredCpuWall, load_cpu_vs_wall, load_decision

if TYPE_CHECKING:
    from perfop.compare.pairs import MetricResult

WALL, CPU = "wall_time", "cpu_time"


@dataclass(frozen=True)
class CpuWall:
    wall_ratio: float
    wall_ci: tuple[float, float]
    cpu_ratio: float
    cpu_ci: tuple[float, float]
    contended: bool = False  # the pairs ran under high machine contention

    @property
    def disagree(self) -> bool:
        """The two intervals do not overlap."""
        return self.wall_ci[1] < self.cpu_ci[0] or self.wall_ci[0] > self.cpu_ci[1]

    @property
    def note(self) -> str | None:
        if not self.disagree:
            return None
        if self.wall_ratio < self.cpu_ratio:
            text = (
                "wall time fell more than CPU time: the change is in waiting (I/O, sleep, locks, "
                "CPU contention) or parallelism, not computing"
            )
        else:
            text = (
                "wall time rose more than CPU time: the candidate waits more (I/O, sleep, locks, "
                "CPU contention) or runs less in parallel; it does not compute more"
            )
        if self.contended:
            text += (
                "; the machine was under high contention during these pairs, so part of that "
                "waiting may be the machine's, not the change's"
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        """The stored form (``perfop.records.measured.StoredCpuWall``, defined there once)."""
        return self.stored().to_dict()

    def stored(self) -> StoredCpuWall:
        return StoredCpuWall(
            wall_ratio=self.wall_ratio,
            wall_ci=self.wall_ci,
            cpu_ratio=self.cpu_ratio,
            cpu_ci=self.cpu_ci,
            disagree=self.disagree,
            note=self.note,
        )


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def cpu_vs_wall(
    metrics: Sequence[MetricResult], *, contention: Mapping[str, Any] | None = None
) -> CpuWall | None:
    """Wall and CPU ratios with their intervals, when both metrics were analysed; ``contention``
    is the machine's during the pairs (``perfop.measure.contention``)."""
    from perfop.measure.contention import is_high

    by_name = {m.name: m.analysis for m in metrics}
    wall, cpu = by_name.get(WALL), by_name.get(CPU)
    if wall is None or cpu is None:
        return None
    if not _finite(wall.ratio, wall.ci_low, wall.ci_high, cpu.ratio, cpu.ci_low, cpu.ci_high):
        return None
    return CpuWall(
        wall_ratio=float(wall.ratio),
        wall_ci=(float(wall.ci_low), float(wall.ci_high)),
        cpu_ratio=float(cpu.ratio),
        cpu_ci=(float(cpu.ci_low), float(cpu.ci_high)),
        contended=is_high(contention),
    )


def cpu_vs_wall_document(
    metrics: Sequence[MetricResult], *, contention: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    found = cpu_vs_wall(metrics, contention=contention)
    return found.as_dict() if found is not None else None


def format_cpu_wall(doc: Mapping[str, Any] | None) -> str | None:
    """``wall ratio 0.800 [0.750, 0.850] vs CPU ratio 1.000 [0.980, 1.020]: ...`` (a
    ``cpu_vs_wall`` object, so the CLI can render stored documents too)."""
    found = load_cpu_vs_wall(doc)
    return found.text() if found is not None else None


# One sentence for a report's Method section: which metric a verdict is decided on.
VERDICT_METRIC_RULE = (
    "a workload measured in wall time whose runs are CPU-bound (on each side, CPU time is at "
    "least 90% of wall time in its best run and at most 110% at the median) is decided on CPU "
    "time (user+sys), the lower-noise measure of the same computing, and its verdict stands only "
    "where wall time's interval overlaps CPU time's; other workloads are decided on their primary "
    "metric. The choice is made on each comparison's first batch of pairs and kept."
)


def decision_text(doc: Mapping[str, Any] | None) -> str | None:
    """``CPU time (user+sys): CPU-bound: ...`` for a stored ``decision`` record (None: none)."""
    found = load_decision(doc)
    return found.text() if found is not None else None
