"""The validation outcome of a hypothesis, as a pure function of its evidence.

``decide`` reduces the evidence to five facts — the targeted workloads' effect against the
prediction, the tests, the behaviour, the SLOs, the other gated workloads — and looks them up in
``RULES`` (first row that matches wins). The same table is rendered into docs/outcomes.md
(``rule_table_markdown``) and enumerated by the tests, so the code, the docs and the tests cannot
drift apart. The hypothesis' status answers "did the change do what was predicted, safely?";
regressions (an SLO the candidate newly breaks or worsens, another gated workload slower) are
findings of their own, and an SLO still not met or measured under high contention is a residual
risk: neither turns a measured, predicted effect into a refutation.

Every consumer (the CLI, MCP, the agent, the report's summary, follow-ups, rollback advice and
changelog entry) reads the one ``Outcome``; ``Outcome.advises_revert`` is False whenever the
effect is as predicted with tests and behaviour intact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from perfop.compare.slo import REGRESSION_STATES, RISK_STATES, SLOResult
from perfop.engagement.records import Status
from perfop.records.evidence import TestEvidence as TestEvidence
from perfop.records.evidence import WorkloadEvidence as WorkloadEvidence
from perfop.records.outcome import Outcome as Outcome

# The facts a rule looks at, and their possible values.
EFFECTS = ("as predicted", "unchanged", "opposite", "undecided", "not compared")
TESTS = ("pass", "not configured", "fail (new)", "fail (base too)")
BEHAVIOURS = ("same", "changed")
SLO_STATES = ("met or none", "still not met", "not trusted", "newly broken or worse")
OTHERS = ("no regression", "slower")

ANY = "any"


@dataclass(frozen=True)
class Rule:
    """One row of the outcome table. Each condition is a tuple of accepted values."""

    id: str
    effect: tuple[str, ...]
    tests: tuple[str, ...]
    behaviour: tuple[str, ...]
    slo: tuple[str, ...]
    others: tuple[str, ...]
    status: Status
    qualifier: str  # shown after the status: "confirmed — SLO still not met"
    advice: str  # what to do next; the report's follow-up and rollback advice
    revert: bool  # the advice includes reverting the candidate

    def matches(self, effect: str, tests: str, behaviour: str, slo: str, others: str) -> bool:
        return (
            effect in self.effect
            and tests in self.tests
            and behaviour in self.behaviour
            and slo in self.slo
            and others in self.others
        )


_PASSING = ("pass", "not configured")
# fmt: off
RULES: tuple[Rule, ...] = (
    Rule(
        "tests-fail", EFFECTS, ("fail (new)",), BEHAVIOURS, SLO_STATES, OTHERS,
        Status.REJECTED, "", "fix the failing tests, or revert the candidate", True,
    ),
    Rule(
        "behaviour-changed", EFFECTS, ("pass", "not configured", "fail (base too)"), ("changed",),
        SLO_STATES, OTHERS, Status.REJECTED, "",
        "fix the behaviour change (or accept it explicitly), or revert the candidate", True,
    ),
    Rule(
        "tests-fail-at-base", EFFECTS, ("fail (base too)",), ("same",), SLO_STATES, OTHERS,
        Status.INCONCLUSIVE, "", "fix the failing tests at base, then validate again", False,
    ),
    Rule(
        "not-compared", ("not compared",), _PASSING, ("same",), SLO_STATES, OTHERS,
        Status.INCONCLUSIVE, "", "compare the hypothesis' workloads: perfop validate H", False,
    ),
    Rule(
        "opposite", ("opposite",), _PASSING, ("same",), SLO_STATES, OTHERS,
        Status.REFUTED, "", "revert the candidate or revise the hypothesis", True,
    ),
    Rule(
        "no-effect", ("unchanged",), _PASSING, ("same",), SLO_STATES, OTHERS,
        Status.REFUTED, "", "no effect beyond the threshold: revert the candidate or revise "
        "the hypothesis", True,
    ),
    Rule(
        "undecided", ("undecided",), _PASSING, ("same",), SLO_STATES, OTHERS,
        Status.INCONCLUSIVE, "", "validate again with a larger budget (--max-time) or CPU "
        "affinity, or drop the hypothesis", False,
    ),
    Rule(
        "confirmed-slo-regression", ("as predicted",), _PASSING, ("same",),
        ("newly broken or worse",), OTHERS, Status.CONFIRMED, "regression: SLO broken",
        "keep the gain, fix the SLO regression before merging", False,
    ),
    Rule(
        "confirmed-other-regression", ("as predicted",), _PASSING, ("same",),
        ("met or none", "still not met", "not trusted"), ("slower",), Status.CONFIRMED,
        "regression: another workload slower",
        "keep the gain, fix the other workload's regression before merging", False,
    ),
    Rule(
        "confirmed-slo-not-met", ("as predicted",), _PASSING, ("same",), ("still not met",),
        ("no regression",), Status.CONFIRMED, "SLO still not met",
        "keep the change; the SLO needs further work (a residual risk)", False,
    ),
    Rule(
        "confirmed-slo-untrusted", ("as predicted",), _PASSING, ("same",), ("not trusted",),
        ("no regression",), Status.CONFIRMED, "SLO not trusted (high contention)",
        "keep the change; check the SLO again on a quiet machine", False,
    ),
    Rule(
        "confirmed", ("as predicted",), _PASSING, ("same",), ("met or none",),
        ("no regression",), Status.CONFIRMED, "", "keep the change", False,
    ),
)
# fmt: on


def rule_for(effect: str, tests: str, behaviour: str, slo: str, others: str) -> Rule:
    """The first rule matching these facts (the table covers every combination)."""
    for rule in RULES:
        if rule.matches(effect, tests, behaviour, slo, others):
            return rule
    raise AssertionError(f"no outcome rule for {(effect, tests, behaviour, slo, others)}")


def _cell(values: tuple[str, ...], every: tuple[str, ...]) -> str:
    return ANY if set(values) == set(every) else " or ".join(values)


def rule_table_markdown() -> str:
    """``RULES`` as the Markdown table of docs/outcomes.md (a test keeps the two identical)."""
    head = "| rule | effect | tests | behaviour | SLOs | other gated workloads | outcome | advice |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for r in RULES:
        outcome = r.status.value + (f" — {r.qualifier}" if r.qualifier else "")
        lines.append(
            f"| `{r.id}` | {_cell(r.effect, EFFECTS)} | {_cell(r.tests, TESTS)} | "
            f"{_cell(r.behaviour, BEHAVIOURS)} | {_cell(r.slo, SLO_STATES)} | "
            f"{_cell(r.others, OTHERS)} | **{outcome}** | {r.advice} |"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class Facts:
    """The evidence reduced to what the rules look at."""

    effect: str
    tests: str
    behaviour: str
    slo: str
    others: str


def _moved(ev: WorkloadEvidence) -> bool:
    return ev.verdict in ("faster", "slower") and ev.ratio is not None


def _direction(ev: WorkloadEvidence) -> str:
    assert ev.ratio is not None
    return "decrease" if math.log(ev.ratio) < 0 else "increase"


def facts(
    *,
    expected_ratio: float,
    workloads: Sequence[WorkloadEvidence],
    tests: TestEvidence | None,
    slos: Sequence[SLOResult],
) -> Facts:
    """Reduce the evidence to the rules' facts."""
    predicted = "decrease" if expected_ratio < 1 else "increase"
    targeted = [ev for ev in workloads if ev.targeted]
    if not targeted:
        effect = "not compared"
    elif any(_moved(ev) and _direction(ev) != predicted for ev in targeted):
        effect = "opposite"
    elif all(ev.verdict == "unchanged" for ev in targeted):
        effect = "unchanged"
    elif any(ev.verdict == "inconclusive" for ev in targeted) or not any(map(_moved, targeted)):
        effect = "undecided"
    else:
        effect = "as predicted"
    if tests is None:
        test_state = "not configured"
    elif tests.candidate_ok:
        test_state = "pass"
    else:
        test_state = "fail (base too)" if tests.base_ok is False else "fail (new)"
    behaviour = (
        "changed"
        if any(ev.behaviour_changed or ev.candidate_failures for ev in workloads)
        else "same"
    )
    states = {r.state for r in slos}
    if states & REGRESSION_STATES:
        slo = "newly broken or worse"
    elif "still not met" in states:
        slo = "still not met"
    elif "not trusted" in states:
        slo = "not trusted"
    else:
        slo = "met or none"
    others = (
        "slower"
        if any(not ev.targeted and ev.gate and ev.verdict == "slower" for ev in workloads)
        else "no regression"
    )
    return Facts(effect, test_state, behaviour, slo, others)


def mde_phrase(mde: float | None) -> str:
    """``minimum detectable effect 4.1%``: what this comparison could have seen, when known."""
    if mde is None or not math.isfinite(mde):
        return ""
    return f"minimum detectable effect {mde:.1%}"


def _evidence_lines(workloads: Sequence[WorkloadEvidence]) -> list[str]:
    lines = []
    for ev in workloads:
        mde = f", {mde_phrase(ev.mde)}" if ev.verdict == "inconclusive" and ev.mde else ""
        if ev.ratio is not None:
            ci = (
                f" (CI {ev.ci_low:.3f}..{ev.ci_high:.3f})"
                if ev.ci_low is not None and ev.ci_high is not None
                else ""
            )
            lines.append(f"{ev.workload} {ev.metric}: ratio {ev.ratio:.3f}{ci}, {ev.verdict}{mde}")
        else:
            lines.append(f"{ev.workload} {ev.metric}: {ev.verdict}{mde}")
    return lines


def _why(
    rule: Rule,
    f: Facts,
    *,
    expected_ratio: float,
    workloads: Sequence[WorkloadEvidence],
    tests: TestEvidence | None,
    slos: Sequence[SLOResult],
) -> str:
    predicted = "decrease" if expected_ratio < 1 else "increase"
    targeted = [ev for ev in workloads if ev.targeted]
    command = tests.command if tests is not None else ""
    if rule.id == "tests-fail":
        return f"tests fail at the candidate and pass at base: {command}"
    if rule.id == "behaviour-changed":
        broken = [ev for ev in workloads if ev.behaviour_changed or ev.candidate_failures]
        return "behaviour changed: " + "; ".join(
            f"{ev.workload}: "
            + (
                "output changed"
                if ev.behaviour_changed
                else f"{ev.candidate_failures} failed run(s) at the candidate"
            )
            for ev in broken
        )
    if rule.id == "tests-fail-at-base":
        return f"tests fail at base too (pre-existing failures): {command}"
    if rule.id == "not-compared":
        return "no workload of the hypothesis was compared"
    if rule.id == "opposite":
        against = [ev for ev in targeted if _moved(ev) and _direction(ev) != predicted]
        return (
            f"predicted a {predicted} of {targeted[0].metric} (x{expected_ratio:g}); "
            + ", ".join(f"{ev.workload} moved the other way" for ev in against)
        )
    if rule.id == "no-effect":
        return (
            f"predicted a {predicted} (x{expected_ratio:g}) but the metric is unchanged within "
            "the threshold"
        )
    if rule.id == "undecided":
        mdes = [ev.mde for ev in targeted if ev.mde is not None and math.isfinite(ev.mde)]
        seen = f" (it could detect changes of {max(mdes):.1%} or more)" if mdes else ""
        return f"the comparison could not decide{seen}; raise the budget or reduce noise"
    parts = [f"{predicted} predicted (x{expected_ratio:g}) and observed"]
    parts.append("tests pass" if f.tests == "pass" else "no test command configured")
    if slos and all(r.state == "met" for r in slos):
        parts.append("SLOs hold")
    if rule.qualifier:
        parts.append(rule.qualifier)
    return "; ".join(parts)


def decide(
    *,
    expected_ratio: float,
    workloads: Sequence[WorkloadEvidence],
    tests: TestEvidence | None,
    slos: Sequence[SLOResult],
    warnings: Sequence[str] = (),
) -> Outcome:
    """The outcome of the evidence: the first matching row of ``RULES`` plus its findings.

    ``warnings`` (e.g. a workload importing the project from outside the candidate's checkout)
    are residual risks, like the tests' own warnings."""
    f = facts(expected_ratio=expected_ratio, workloads=workloads, tests=tests, slos=slos)
    rule = rule_for(f.effect, f.tests, f.behaviour, f.slo, f.others)
    why = _why(rule, f, expected_ratio=expected_ratio, workloads=workloads, tests=tests, slos=slos)
    regressions = [f"SLO {r.state}: {r.reason}" for r in slos if r.state in REGRESSION_STATES]
    regressions += [
        f"another gated workload regressed: {ev.workload} {ev.metric} "
        + (f"ratio {ev.ratio:.3f}, " if ev.ratio is not None else "")
        + "slower"
        for ev in workloads
        if not ev.targeted and ev.gate and ev.verdict == "slower"
    ]
    risks = [f"SLO {r.state}: {r.reason}" for r in slos if r.state in RISK_STATES]
    if tests is not None:
        risks += list(tests.warnings)
    risks += list(warnings)
    return Outcome(
        status=rule.status,
        reasons=(why, *_evidence_lines(workloads)),
        contradicts=rule.status in (Status.REFUTED, Status.REJECTED),
        rule=rule.id,
        qualifier=rule.qualifier,
        advice=rule.advice,
        advises_revert=rule.revert,
        regressions=tuple(regressions),
        residual_risks=tuple(risks),
    )
