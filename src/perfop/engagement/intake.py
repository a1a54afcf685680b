"""Intake: turn a YAML/TOML file, flags or answers to prompts into an ``EngagementSpec``.

Files are validated with pydantic like the config; every error is one line
``file: key: problem; fix`` (a ``UsageError``, exit 2). Workload and SLO names are checked against
the configured workloads. Nothing here prints: prompting goes through an ``ask`` callable.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from perfop.config import PerfopConfig, _dotted
from perfop.engagement.records import EngagementSpec, Goal, SLOTarget, Stakeholder
from perfop.errors import UsageError

Statistic = Literal["median", "mean", "p90", "p95", "p99", "max", "min"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _nonblank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty; give a value")
    return value.strip()


class GoalIn(_Strict):
    text: str
    metric: str | None = None
    target: str | float | None = None

    _t = field_validator("text")(_nonblank)


class StakeholderIn(_Strict):
    name: str
    role: str

    _n = field_validator("name", "role")(_nonblank)


class SLOIn(_Strict):
    workload: str
    metric: str = "wall_time"
    statistic: Statistic = "p95"
    max: float | None = Field(default=None, gt=0)
    min: float | None = Field(default=None, gt=0)
    unit: str | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> SLOIn:
        if self.max is None and self.min is None:
            raise ValueError("needs 'max' or 'min'; add an upper or lower bound")
        return self


class IntakeFile(_Strict):
    """The schema of an intake file (YAML or TOML)."""

    title: str
    requester: str | None = None
    scenario: str | None = None
    goals: list[str | GoalIn] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)
    slos: list[SLOIn] = Field(default_factory=list)
    constraints: list[str] = Field(default_factory=list)
    stakeholders: list[StakeholderIn] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    risk_tolerance: Literal["low", "medium", "high"] | None = None
    open_questions: list[str] = Field(default_factory=list)
    base: str | None = None
    hardware: str | None = None
    dataset: str | None = None
    traffic: str | None = None
    dashboards: list[str] = Field(default_factory=list)
    regression_tests: list[str] = Field(default_factory=list)
    data_sources: list[str] = Field(default_factory=list)

    _t = field_validator("title")(_nonblank)


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or correct the spelling",
    "literal_error": "use one of the listed values",
    "string_type": "write it as text",
    "list_type": "write it as a list",
    "model_type": "write it as a table/mapping",
    "dict_type": "write it as a table/mapping",
    "float_type": "write a number",
    "float_parsing": "write a number",
    "greater_than": "use a positive number",
}


def _format_error(exc: ValidationError, source: str) -> str:
    errors = exc.errors(include_url=False)
    err = errors[0]
    if isinstance(err.get("input"), dict):
        # A mapping given where a string-or-table is allowed: the table branch says more.
        err = next((e for e in errors if "GoalIn" in e["loc"]), err)
    loc = [
        p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "GoalIn")))
    ]
    key = _dotted(loc) or "(top level)"
    kind = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    fix = _FIXES.get(kind, "correct the value")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields)
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        fix = f"did you mean {hint[0]!r}?" if hint else f"expected one of: {', '.join(allowed)}"
        return f"{source}: {key}: unknown key; {fix}"
    if kind == "missing":
        return f"{source}: {key}: required key is missing; {fix}"
    if kind == "literal_error":
        return f"{source}: {key}: must be one of {ctx.get('expected')} (got {got!r}); {fix}"
    if kind == "value_error":
        text = str(ctx.get("error", err["msg"]))
        return f"{source}: {key}: {text}" + ("" if ";" in text else f"; {fix}")
    return f"{source}: {key}: {err['msg'].lower()} (got {got!r}); {fix}"


def _model_at(loc: Sequence[Any]) -> type[BaseModel]:
    model: type[BaseModel] = IntakeFile
    nested: dict[str, type[BaseModel]] = {
        "goals": GoalIn,
        "stakeholders": StakeholderIn,
        "slos": SLOIn,
    }
    for part in loc:
        if isinstance(part, str) and part in nested and model is IntakeFile:
            model = nested[part]
    return model


def read_intake_file(path: Path) -> dict[str, Any]:
    """Parse a YAML (.yml/.yaml) or TOML (.toml) file into a mapping; UsageError otherwise."""
    name = str(path)
    if not path.is_file():
        raise UsageError(f"{name}: file not found; check the --from path")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{name}: cannot read ({exc}); save it as UTF-8 text") from None
    if suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{name}: (syntax): invalid TOML: {exc}; fix the syntax") from None
    elif suffix in (".yml", ".yaml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or "parse error"
            raise UsageError(
                f"{name}: (syntax): invalid YAML{where}: {problem}; fix the syntax"
            ) from None
    else:
        raise UsageError(
            f"{name}: (file): unsupported extension {suffix!r}; use .yaml, .yml or .toml"
        )
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{name}: (top level): must be a mapping of keys like title, goals, workloads; "
            f"got a {type(data).__name__}"
        )
    return data


def parse_intake(data: dict[str, Any], *, source: str, config: PerfopConfig) -> EngagementSpec:
    """Validate an intake mapping and check names against the configuration."""
    try:
        model = IntakeFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError(_format_error(exc, source)) from None
    known = sorted(config.workloads)
    for i, name in enumerate(model.workloads):
        _check_workload(name, known, source, f"workloads[{i}]")
    for i, slo in enumerate(model.slos):
        _check_workload(slo.workload, known, source, f"slos[{i}].workload")
    return _to_spec(model)


def load_intake(path: Path, config: PerfopConfig) -> EngagementSpec:
    """Read and validate an intake file."""
    return parse_intake(read_intake_file(path), source=str(path), config=config)


def _check_workload(name: str, known: list[str], source: str, key: str) -> None:
    if name in known:
        return
    hint = difflib.get_close_matches(name, known, n=1)
    fix = (
        f"did you mean {hint[0]!r}?"
        if hint
        else (
            f"use one of: {', '.join(known)}"
            if known
            else "configure it under [tool.perfop.workloads]"
        )
    )
    raise UsageError(f"{source}: {key}: unknown workload {name!r}; {fix}")


def _to_spec(m: IntakeFile) -> EngagementSpec:
    goals = tuple(
        Goal(text=g)
        if isinstance(g, str)
        else Goal(text=g.text, metric=g.metric, target=None if g.target is None else str(g.target))
        for g in m.goals
    )
    return EngagementSpec(
        title=m.title,
        requester=m.requester,
        scenario=m.scenario,
        goals=goals,
        workloads=tuple(m.workloads),
        slos=tuple(SLOTarget(**s.model_dump()) for s in m.slos),
        constraints=tuple(m.constraints),
        stakeholders=tuple(Stakeholder(s.name, s.role) for s in m.stakeholders),
        assumptions=tuple(m.assumptions),
        risk_tolerance=m.risk_tolerance,
        open_questions=tuple(m.open_questions),
        base=m.base,
        hardware=m.hardware,
        dataset=m.dataset,
        traffic=m.traffic,
        dashboards=tuple(m.dashboards),
        regression_tests=tuple(m.regression_tests),
        data_sources=tuple(m.data_sources),
    )


def spec_from_flags(
    *,
    title: str,
    config: PerfopConfig,
    requester: str | None = None,
    goals: Sequence[str] = (),
    workloads: Sequence[str] = (),
    constraints: Sequence[str] = (),
    stakeholders: Sequence[str] = (),
    assumptions: Sequence[str] = (),
    risk_tolerance: str | None = None,
    base: str | None = None,
    hardware: str | None = None,
    dataset: str | None = None,
    traffic: str | None = None,
) -> EngagementSpec:
    """A spec from command-line flags; ``--stakeholder`` is ``NAME:ROLE``. SLOs come from config."""
    people = []
    for raw in stakeholders:
        name, sep, role = raw.partition(":")
        if not sep or not name.strip() or not role.strip():
            raise UsageError(f"--stakeholder: {raw!r} must be NAME:ROLE, e.g. 'Ada:owner'")
        people.append({"name": name.strip(), "role": role.strip()})
    data: dict[str, Any] = {
        "title": title,
        "requester": requester,
        "goals": list(goals),
        "workloads": list(workloads),
        "constraints": list(constraints),
        "stakeholders": people,
        "assumptions": list(assumptions),
        "risk_tolerance": risk_tolerance,
        "base": base,
        "hardware": hardware,
        "dataset": dataset,
        "traffic": traffic,
        "slos": [s.model_dump(exclude_none=True) for s in config.slos],
    }
    return parse_intake(data, source="(flags)", config=config)


Ask = Callable[[str, str], str]


def _split(answer: str) -> list[str]:
    return [p.strip() for p in answer.replace(";", ",").split(",") if p.strip()]


def prompt_spec(ask: Ask, config: PerfopConfig) -> EngagementSpec:
    """Interactive intake: ``ask(question, default) -> answer``; defaults come from the config."""
    workloads = ", ".join(sorted(config.workloads))
    data: dict[str, Any] = {
        "title": ask("Title of the engagement", ""),
        "requester": ask("Requester", "") or None,
        "scenario": ask("Scenario (what is slow, for whom)", "") or None,
        "goals": _split(ask("Goals (comma-separated; include a measurable target)", "")),
        "workloads": _split(ask("Affected workloads", workloads)),
        "constraints": _split(ask("Non-functional constraints (comma-separated)", "")),
        "assumptions": _split(ask("Assumptions (comma-separated)", "")),
        "risk_tolerance": ask("Risk tolerance (low/medium/high)", "") or None,
        "hardware": ask("Hardware the SLOs refer to", "") or None,
        "dataset": ask("Dataset / input size", "") or None,
        "traffic": ask("Traffic level", "") or None,
        "base": ask("Base ref", config.base or "") or None,
        "slos": [s.model_dump(exclude_none=True) for s in config.slos],
    }
    people = []
    for raw in _split(ask("Stakeholders (NAME:ROLE, comma-separated)", "")):
        name, _, role = raw.partition(":")
        people.append({"name": name.strip(), "role": role.strip() or "stakeholder"})
    data["stakeholders"] = people
    return parse_intake(data, source="(prompts)", config=config)
