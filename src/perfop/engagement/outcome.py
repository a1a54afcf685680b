"""The validation verdict for a hypothesis, as a pure function of its evidence.

``decide`` maps the evidence to a status, first rule that applies wins:

1. tests fail at the candidate but pass at base (new failures)            -> rejected
2. a workload's output changed or it failed at the candidate (behaviour)  -> rejected
3. tests fail at base too (pre-existing failures; nothing proves safety)  -> inconclusive
4. an SLO is breached by the candidate's samples                          -> refuted
5. another gated workload regressed                                       -> refuted
6. the predicted metric moved against the prediction, or not at all       -> refuted
7. the comparison could not decide                                        -> inconclusive
8. the metric moved in the predicted direction with a verdict             -> confirmed
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfop.engagement.records import Status
from perfop.slo import SLOResult


@dataclass(frozen=True)
class WorkloadEvidence:
    """One workload's A/B result for one metric. ``ratio`` is candidate/base (geometric mean)."""

    workload: str
    metric: str
    verdict: str  # faster | slower | unchanged | inconclusive (in the metric's "better" sense)
    ratio: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    gate: bool = True
    behaviour_changed: bool = False
    candidate_failures: int = 0
    comparison_id: int | None = None
    targeted: bool = True  # a workload the hypothesis names

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TestEvidence:
    """The test command at the candidate (and at base when the candidate failed)."""

    __test__ = False  # not a pytest test class

    command: str
    candidate_ok: bool
    base_ok: bool | None = None
    candidate_tail: str = ""
    base_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    status: Status
    reasons: tuple[str, ...]
    contradicts: bool  # the evidence contradicts the hypothesis's prediction


def _moved(ev: WorkloadEvidence) -> bool:
    return ev.verdict in ("faster", "slower") and ev.ratio is not None


def decide(
    *,
    expected_ratio: float,
    workloads: Sequence[WorkloadEvidence],
    tests: TestEvidence | None,
    slos: Sequence[SLOResult],
) -> Outcome:
    """Status from the evidence (see the module docstring for the rules)."""
    reasons: list[str] = []
    predicted = "decrease" if expected_ratio < 1 else "increase"
    for ev in workloads:
        if ev.ratio is not None:
            ci = (
                f" (CI {ev.ci_low:.3f}..{ev.ci_high:.3f})"
                if ev.ci_low is not None and ev.ci_high is not None
                else ""
            )
            reasons.append(f"{ev.workload} {ev.metric}: ratio {ev.ratio:.3f}{ci}, {ev.verdict}")
        else:
            reasons.append(f"{ev.workload} {ev.metric}: {ev.verdict}")

    if tests is not None and not tests.candidate_ok and tests.base_ok is not False:
        return Outcome(
            Status.REJECTED,
            (f"tests fail at the candidate and pass at base: {tests.command}", *reasons),
            True,
        )
    broken = [ev for ev in workloads if ev.behaviour_changed or ev.candidate_failures]
    if broken:
        why = "; ".join(
            f"{ev.workload}: "
            + (
                "output changed"
                if ev.behaviour_changed
                else f"{ev.candidate_failures} failed run(s) at the candidate"
            )
            for ev in broken
        )
        return Outcome(Status.REJECTED, (f"behaviour changed: {why}", *reasons), True)
    if tests is not None and not tests.candidate_ok:
        return Outcome(
            Status.INCONCLUSIVE,
            (f"tests fail at base too (pre-existing failures): {tests.command}", *reasons),
            False,
        )
    breached = [r for r in slos if r.passed is False]
    if breached:
        return Outcome(
            Status.REFUTED,
            ("SLO breached: " + "; ".join(r.reason for r in breached), *reasons),
            True,
        )
    regressed = [ev for ev in workloads if not ev.targeted and ev.gate and ev.verdict == "slower"]
    if regressed:
        return Outcome(
            Status.REFUTED,
            (
                "another gated workload regressed: " + ", ".join(ev.workload for ev in regressed),
                *reasons,
            ),
            True,
        )
    targeted = [ev for ev in workloads if ev.targeted]
    if not targeted:
        return Outcome(
            Status.INCONCLUSIVE, ("no workload of the hypothesis was compared", *reasons), False
        )
    against = [ev for ev in targeted if _moved(ev) and _direction(ev) != predicted]
    if against:
        return Outcome(
            Status.REFUTED,
            (
                f"predicted a {predicted} of {targeted[0].metric} (x{expected_ratio:g}); "
                + ", ".join(f"{ev.workload} moved the other way" for ev in against),
                *reasons,
            ),
            True,
        )
    unchanged = [ev for ev in targeted if ev.verdict == "unchanged"]
    if unchanged and len(unchanged) == len(targeted):
        return Outcome(
            Status.REFUTED,
            (
                f"predicted a {predicted} (x{expected_ratio:g}) but the metric is unchanged within "
                "the threshold",
                *reasons,
            ),
            True,
        )
    if any(ev.verdict == "inconclusive" for ev in targeted) or not any(map(_moved, targeted)):
        return Outcome(
            Status.INCONCLUSIVE,
            ("the comparison could not decide; raise the budget or reduce noise", *reasons),
            False,
        )
    return Outcome(
        Status.CONFIRMED,
        (
            f"{predicted} predicted (x{expected_ratio:g}) and observed; tests pass; SLOs hold",
            *reasons,
        ),
        False,
    )


def _direction(ev: WorkloadEvidence) -> str:
    assert ev.ratio is not None
    return "decrease" if math.log(ev.ratio) < 0 else "increase"
