"""Open questions come from what the intake leaves missing or ambiguous; the recap shows them."""

from __future__ import annotations

from perfop.config import parse_config
from perfop.engagement.inventory import Finding, Inventory
from perfop.engagement.questions import format_recap, is_measurable, open_questions
from perfop.engagement.records import EngagementSpec, Goal, SLOTarget, Stakeholder

BARE = parse_config({"workloads": {"parse": {"command": "true"}}}, source="perfop.toml")
FULL_CONFIG = parse_config(
    {
        "test_command": "pytest",
        "workloads": {"parse": {"command": "true"}},
        "slos": [{"workload": "parse", "max": 1.0}],
    },
    source="perfop.toml",
)
FULL = EngagementSpec(
    title="T",
    goals=(Goal("parse p95 below 200 ms"),),
    workloads=("parse",),
    slos=(SLOTarget("parse", max=0.2),),
    risk_tolerance="low",
    hardware="2 vCPU",
    dataset="10k rows",
    traffic="50 rps",
    dashboards=("grafana/parse",),
    regression_tests=("tests/",),
    stakeholders=(Stakeholder("Ada", "owner"),),
)
FLAGGED = Inventory(feature_flags=(Finding("dependency", "pyproject.toml", "flagsmith"),))


def test_complete_intake_has_no_questions() -> None:
    assert open_questions(FULL, FULL_CONFIG, FLAGGED) == []


def test_each_gap_raises_its_question() -> None:
    qs = open_questions(EngagementSpec(title="T", goals=(Goal("be faster"),)), BARE, Inventory())
    text = "\n".join(qs)
    for needle in (
        "Which workloads are affected? None named (configured: parse)",
        "Goal 'be faster' has no measurable target",
        "Which SLO targets apply",
        "No test_command configured",
        "risk tolerance",
        "hardware",
        "dataset",
        "traffic",
        "No feature-flag library found",
        "SLO dashboards",
        "regression tests",
    ):
        assert needle in text, needle
    assert len(qs) == 11


def test_test_command_question_names_what_inventory_found() -> None:
    inv = Inventory(test_commands=(Finding("pytest", "pyproject.toml", "python -m pytest"),))
    qs = open_questions(FULL, BARE, inv)
    assert any("inventory found: python -m pytest in pyproject.toml" in q for q in qs)


def test_no_inventory_means_no_feature_flag_question() -> None:
    assert not any("feature-flag" in q for q in open_questions(FULL, FULL_CONFIG, None))


def test_measurable_goals() -> None:
    for text in (
        "p95 under 200 ms",
        "cut wall time by 20%",
        "2x throughput",
        "< 1.5 s",
        "at least 500 req/s",
        "peak memory below 300 MB",
    ):
        assert is_measurable(Goal(text)), text
    for text in ("be faster", "feel snappier", "reduce latency"):
        assert not is_measurable(Goal(text)), text
    assert is_measurable(Goal("reduce latency", metric="wall_time", target="-10%"))


def test_recap_sections_and_numbered_questions() -> None:
    md = format_recap(FULL, ["What about X?", "And Y?"], confirmed=True)
    for heading in (
        "## Scenario",
        "## Stakeholders",
        "## Goals and SLO targets",
        "## Constraints",
        "## Assumptions",
        "## Data sources",
        "## Open questions",
    ):
        assert heading in md
    assert "- Ada (owner)" in md
    assert "| parse | wall_time | p95 | <= 0.2 |" in md
    assert "1. What about X?\n2. And Y?" in md
    assert "Status: confirmed" in md
