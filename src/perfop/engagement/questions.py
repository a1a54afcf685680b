"""Open questions and the intake recap: pure functions of the spec, the config and the inventory.

``open_questions`` lists what is missing or ambiguous (no workload, a goal with no measurable
target, no test command, no risk tolerance, unspecified hardware/dataset/traffic, no feature-flag
mechanism, no SLO dashboards or regression tests). ``format_recap`` renders the Markdown recap.
"""

from __future__ import annotations

import re

from perfop.config import PerfopConfig
from perfop.engagement.inventory import Inventory
from perfop.engagement.records import EngagementSpec, Goal

# A number with a unit or percent, a ratio like 2x, or a comparison against a number.
_MEASURABLE = re.compile(
    r"(\d+(\.\d+)?\s*(%|x\b|\u00d7|ms\b|s\b|sec|seconds?|µs|us\b|ns\b|min|mb\b|mib|gb\b|gib|kb\b|"
    r"req/s|rps|qps|ops/s|/s\b|percent))|([<>≤≥]=?\s*\d)|(\b(p\d{2}|median|mean)\b.*\d)",
    re.IGNORECASE,
)


def is_measurable(goal: Goal) -> bool:
    """True when the goal names a target: explicit ``target`` or a number with a unit."""
    if goal.target:
        return True
    return bool(_MEASURABLE.search(goal.text))


def open_questions(
    spec: EngagementSpec, config: PerfopConfig, inventory: Inventory | None
) -> list[str]:
    """Questions generated from what the intake leaves missing or ambiguous."""
    qs: list[str] = []
    if not spec.workloads:
        configured = ", ".join(sorted(config.workloads))
        qs.append(
            "Which workloads are affected? None named"
            + (f" (configured: {configured})." if configured else "; none configured either.")
        )
    if not spec.goals:
        qs.append("What is the goal? No goal was given.")
    for goal in spec.goals:
        if not is_measurable(goal):
            qs.append(f"Goal {goal.text!r} has no measurable target: which metric, by how much?")
    if not spec.slos and not config.slos:
        qs.append("Which SLO targets apply (metric, statistic, bound)? None given or configured.")
    if config.test_command is None:
        found = inventory.test_commands if inventory else ()
        hint = f" (inventory found: {found[0].detail} in {found[0].path})" if found else ""
        qs.append(f"Which command runs the regression tests? No test_command configured{hint}.")
    if spec.risk_tolerance is None:
        qs.append("What is the risk tolerance (low, medium or high)?")
    if not spec.hardware:
        qs.append("On what hardware must the targets hold (CPU, cores, memory)?")
    if not spec.dataset:
        qs.append("What dataset or input size is representative?")
    if not spec.traffic:
        qs.append("What traffic level or concurrency is expected?")
    if inventory is not None and not inventory.feature_flags:
        qs.append(
            "No feature-flag library found among the dependencies: how will a change be switched "
            "off in production (flag, kill switch, rollback)?"
        )
    if not spec.dashboards:
        qs.append("Which SLO dashboards or monitoring show these metrics in production?")
    if not spec.regression_tests:
        qs.append("Which regression tests must keep passing (suites, files)?")
    return qs


def _bullets(items: tuple[str, ...] | list[str], empty: str = "_none given_") -> list[str]:
    return [f"- {i}" for i in items] if items else [empty]


def format_recap(spec: EngagementSpec, questions: list[str], *, confirmed: bool = False) -> str:
    """The intake recap in Markdown."""
    lines = [f"# Intake recap: {spec.title}", ""]
    lines.append(
        f"Status: {'confirmed' if confirmed else 'not confirmed (run perfop intake --confirm)'}"
    )
    lines += ["", "## Scenario", ""]
    lines.append(spec.scenario or "_not described_")
    if spec.requester:
        lines.append(f"\nRequested by: {spec.requester}")
    lines += ["", "## Stakeholders", ""]
    lines += _bullets([f"{s.name} ({s.role})" for s in spec.stakeholders])
    lines += ["", "## Goals and SLO targets", ""]
    goal_lines = []
    for g in spec.goals:
        target = f" (target: {g.metric + ' ' if g.metric else ''}{g.target})" if g.target else ""
        goal_lines.append(f"{g.text}{target}")
    lines += _bullets(goal_lines)
    lines.append("")
    lines.append("Workloads: " + (", ".join(spec.workloads) or "_none named_"))
    if spec.slos:
        lines += ["", "| workload | metric | statistic | bound |", "|---|---|---|---|"]
        for s in spec.slos:
            bound = " and ".join(
                b
                for b in (
                    f"<= {s.max:g}{' ' + s.unit if s.unit else ''}" if s.max is not None else "",
                    f">= {s.min:g}{' ' + s.unit if s.unit else ''}" if s.min is not None else "",
                )
                if b
            )
            lines.append(f"| {s.workload} | {s.metric} | {s.statistic} | {bound} |")
    lines += ["", "## Constraints", ""]
    lines += _bullets(spec.constraints)
    lines.append(f"\nRisk tolerance: {spec.risk_tolerance or '_not given_'}")
    lines += ["", "## Assumptions", ""]
    lines += _bullets(spec.assumptions)
    lines += ["", "## Data sources", ""]
    sources = [
        *(f"hardware: {spec.hardware}" for _ in [0] if spec.hardware),
        *(f"dataset: {spec.dataset}" for _ in [0] if spec.dataset),
        *(f"traffic: {spec.traffic}" for _ in [0] if spec.traffic),
        *(f"dashboard: {d}" for d in spec.dashboards),
        *(f"regression tests: {t}" for t in spec.regression_tests),
        *spec.data_sources,
    ]
    lines += _bullets(sources)
    lines += ["", "## Open questions", ""]
    lines += [f"{i}. {q}" for i, q in enumerate(questions, 1)] or ["_none_"]
    if spec.answers:
        lines += ["", "## Answered questions", ""]
        for a in spec.answers:
            verb = "dropped" if a.dropped else "answered"
            lines.append(f"- {a.question} — {verb} by {a.by}: {a.answer}")
    return "\n".join(lines) + "\n"
