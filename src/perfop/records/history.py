"""The one history of a workload's metric: a series of points in order, and its shifts.

``perfop history`` / ``perfop record`` (``perfop.history.service.load_histories``) make one point
per commit, a statistic over every sample recorded for it; the report makes one point per baseline
run (its median, ``started_at`` set). ``History.to_dict`` is the ``perfop.history/1`` document,
which has no ``started_at``. The old path ``perfop.history.service`` re-exports these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

HISTORY_SCHEMA = "perfop.history/1"


@dataclass(frozen=True)
class HistoryPoint:
    """One commit of the series: the statistic over every sample recorded for it. In the
    report's series of baseline runs, one run: its median, and when it started (``sha`` is ""
    for a run without a commit)."""

    sha: str
    committed_at: str | None
    branch: str | None
    subject: str | None
    value: float
    n: int
    run_ids: tuple[int, ...]
    dirty: bool
    started_at: str | None = None  # the report's baseline runs; not in perfop.history/1


@dataclass(frozen=True)
class Shift:
    """A persistent change of level, introduced in the commit range ``last_good..first_bad``."""

    index: int
    last_good: str
    first_bad: str
    commit_range: str
    mean_before: float
    mean_after: float
    magnitude: float
    confidence: float
    pvalue: float
    direction: str  # "regression" | "improvement" | "change"


@dataclass(frozen=True)
class History:
    workload: str
    metric: str
    unit: str
    better: str
    statistic: str
    points: tuple[HistoryPoint, ...]
    shifts: tuple[Shift, ...]

    def to_dict(self) -> dict[str, Any]:
        """The ``perfop.history/1`` document."""
        doc = {"schema": HISTORY_SCHEMA, **asdict(self)}
        for point in doc["points"]:
            del point["started_at"]
        return doc
