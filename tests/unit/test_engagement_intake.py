"""Intake files: valid ones parse, malformed ones fail with one line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfop.config import parse_config
from perfop.engagement.intake import load_intake, prompt_spec, spec_from_flags
from perfop.errors import UsageError

CONFIG = parse_config(
    {
        "workloads": {"parse": {"command": "python -c pass"}, "render": {"command": "true"}},
        "slos": [{"workload": "parse", "max": 0.5}],
    },
    source="perfop.toml",
)

GOOD_YAML = """\
title: Speed up parsing
requester: Ada
goals:
  - parse p95 under 200 ms
  - text: render faster
    metric: wall_time
    target: "-20%"
workloads: [parse]
stakeholders:
  - {name: Ada, role: owner}
risk_tolerance: medium
"""

# (file name, content, key expected in the message)
MALFORMED: list[tuple[str, str, str]] = [
    ("syntax.yaml", "title: [unclosed\n", "(syntax)"),
    ("syntax.toml", "title = \n", "(syntax)"),
    ("list.yaml", "- a\n- b\n", "(top level)"),
    ("scalar.yaml", "just text\n", "(top level)"),
    ("ext.json", '{"title": "x"}', "(file)"),
    ("missing_title.yaml", "goals: [faster]\n", "title"),
    ("empty_title.yaml", "title: '  '\n", "title"),
    ("typo.yaml", "title: t\ngaols: [x]\n", "gaols"),
    ("risk.yaml", "title: t\nrisk_tolerance: extreme\n", "risk_tolerance"),
    ("goals_type.yaml", "title: t\ngoals: 3\n", "goals"),
    ("stakeholders_type.yaml", "title: t\nstakeholders: Ada\n", "stakeholders"),
    ("stakeholder_role.yaml", "title: t\nstakeholders: [{name: Ada}]\n", "stakeholders[0].role"),
    (
        "stakeholder_extra.yaml",
        "title: t\nstakeholders: [{name: A, role: r, mail: x}]\n",
        "stakeholders[0].mail",
    ),
    ("workload_unknown.yaml", "title: t\nworkloads: [parse, prase2]\n", "workloads[1]"),
    ("slo_no_bound.yaml", "title: t\nslos: [{workload: parse}]\n", "slos[0]"),
    (
        "slo_stat.yaml",
        "title: t\nslos: [{workload: parse, statistic: p42, max: 1}]\n",
        "slos[0].statistic",
    ),
    (
        "slo_workload.toml",
        'title = "t"\n[[slos]]\nworkload = "nope"\nmax = 1\n',
        "slos[0].workload",
    ),
    ("slo_negative.toml", 'title = "t"\n[[slos]]\nworkload = "parse"\nmax = -1\n', "slos[0].max"),
    ("goal_extra.yaml", "title: t\ngoals: [{text: x, budget: 3}]\n", "goals[0].budget"),
    ("constraints_type.toml", 'title = "t"\nconstraints = { a = 1 }\n', "constraints"),
]


def test_good_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "intake.yaml"
    path.write_text(GOOD_YAML)
    spec = load_intake(path, CONFIG.model_copy())
    assert spec.title == "Speed up parsing"
    assert spec.goals[1].target == "-20%"
    assert spec.stakeholders[0].role == "owner"
    assert spec.workloads == ("parse",)


def test_good_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "intake.toml"
    path.write_text(
        'title = "T"\nworkloads = ["render"]\n[[stakeholders]]\nname = "B"\nrole = "sre"\n'
    )
    spec = load_intake(path, CONFIG)
    assert spec.workloads == ("render",)
    assert spec.stakeholders[0].name == "B"


@pytest.mark.parametrize(("name", "content", "key"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_intake_file(tmp_path: Path, name: str, content: str, key: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UsageError) as info:
        load_intake(path, CONFIG)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: {key}")
    assert ";" in msg  # problem; fix


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="file not found"):
        load_intake(tmp_path / "nope.yaml", CONFIG)


def test_unknown_workload_suggests_close_name(tmp_path: Path) -> None:
    path = tmp_path / "i.yaml"
    path.write_text("title: t\nworkloads: [prase]\n")
    with pytest.raises(UsageError, match="did you mean 'parse'"):
        load_intake(path, CONFIG)


def test_flags_take_slos_from_config_and_parse_stakeholders() -> None:
    spec = spec_from_flags(
        title="T", config=CONFIG, stakeholders=["Ada:owner"], workloads=["parse"], goals=["x"]
    )
    assert spec.slos[0].max == 0.5
    assert spec.stakeholders[0].role == "owner"
    with pytest.raises(UsageError, match="--stakeholder"):
        spec_from_flags(title="T", config=CONFIG, stakeholders=["Ada"])
    with pytest.raises(UsageError, match="workloads\\[0\\]"):
        spec_from_flags(title="T", config=CONFIG, workloads=["zzz"])


def test_prompts_use_config_defaults() -> None:
    asked: list[tuple[str, str]] = []
    answers = {
        "Title of the engagement": "From prompts",
        "Risk tolerance (low/medium/high)": "low",
        "Stakeholders (NAME:ROLE, comma-separated)": "Ada:owner, Bob",
    }

    def ask(question: str, default: str) -> str:
        asked.append((question, default))
        return answers.get(question, default)

    spec = prompt_spec(ask, CONFIG)
    assert spec.title == "From prompts"
    assert spec.workloads == ("parse", "render")  # the default offered from the config
    assert spec.risk_tolerance == "low"
    assert [s.role for s in spec.stakeholders] == ["owner", "stakeholder"]
    assert ("Affected workloads", "parse, render") in asked
