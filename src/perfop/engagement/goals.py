"""A goal's target, checked beside the hypothesis's prediction: pure functions of the numbers.

A goal's ``target`` is a ratio (``0.5x``, ``-50%``: candidate/base) or a bound on a statistic of
the candidate's samples (``0.5`` or ``500 ms`` for ``wall_time``; ``p95`` when the goal says so,
else the median; ``< 200 ms`` and ``<= 0.2 s`` read the same). ``check_goal`` says whether the
validation's evidence meets it; a goal not met is a residual risk, never a refutation (the
hypothesis is judged on its own prediction).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfop.engagement.records import Goal

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0}
_BOUND = re.compile(
    r"^\s*(?:<=?|≤|under|below)?\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ns|us|µs|ms|sec|s|min)?\s*$",
    re.I,
)


@dataclass(frozen=True)
class GoalCheck:
    goal: str
    target: str
    workload: str
    metric: str
    kind: str  # ratio | bound
    observed: float | None
    limit: float
    met: bool | None  # None: nothing measured to check it against
    statistic: str = "ratio"

    def describe(self) -> str:
        state = {True: "met", False: "NOT met", None: "not checked"}[self.met]
        if self.observed is None:
            return f"goal {self.goal!r}: {state} (no {self.metric} measured for {self.workload})"
        if self.kind == "ratio":
            seen = f"observed x{self.observed:.3f}, target x{self.limit:g}"
        else:
            seen = f"{self.statistic} {self.observed:.4g} vs target {self.limit:.4g}"
        return f"goal {self.goal!r} on {self.workload}: {state} ({seen})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.describe()}


def parse_target(goal: Goal) -> tuple[str, float] | None:
    """``("ratio", 0.5)`` or ``("bound", 0.5)`` (seconds for times), or None when unreadable."""
    raw = str(goal.target).strip() if goal.target is not None else ""
    if not raw:
        return None
    lowered = raw.lower()
    try:
        if lowered.endswith("%"):
            return "ratio", 1.0 + float(lowered[:-1]) / 100.0
        if lowered.endswith("x"):
            return "ratio", float(lowered[:-1])
        if lowered.startswith("x"):
            return "ratio", float(lowered[1:])
    except ValueError:
        return None
    m = _BOUND.match(raw)
    if m is None:
        return None
    unit = (m.group("unit") or "").lower()
    return "bound", float(m.group("value")) * _UNITS.get(unit, 1.0)


def _statistic(goal: Goal) -> str:
    text = goal.text.lower()
    for name in ("p99", "p95", "p90", "mean", "max"):
        if name in text:
            return name
    return "median"


def check_goal(
    goal: Goal,
    *,
    workload: str,
    default_metric: str,
    ratios: Mapping[str, float | None],
    candidate: Mapping[str, Sequence[float]],
    higher_is_better: bool = False,
) -> GoalCheck | None:
    """The goal against one workload's evidence: ``ratios`` and ``candidate`` samples by metric."""
    parsed = parse_target(goal)
    if parsed is None:
        return None
    kind, limit = parsed
    metric = goal.metric or default_metric
    if kind == "ratio":
        observed = ratios.get(metric)
        met = None
        if observed is not None:
            met = observed >= limit if limit > 1 else observed <= limit
        return GoalCheck(goal.text, str(goal.target), workload, metric, kind, observed, limit, met)
    from perfop.stats import summarize

    values = list(candidate.get(metric) or ())
    stat = _statistic(goal)
    if not values:
        return GoalCheck(
            goal.text, str(goal.target), workload, metric, kind, None, limit, None, stat
        )
    observed = summarize(values).statistic(stat)
    met = observed >= limit if higher_is_better else observed <= limit
    return GoalCheck(
        goal.text, str(goal.target), workload, metric, kind, observed, limit, met, stat
    )
