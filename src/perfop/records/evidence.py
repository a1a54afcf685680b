"""A validation's stored evidence, loaded once: the records ``perfop validate`` stores and what
the report (and anything else reading a validation back) reads of them.

``WorkloadEvidence``, ``TestEvidence`` and ``SLOResult`` are what ``validate`` hands
``engagement.outcome.decide`` and stores (``to_dict``); ``perfop.engagement.outcome`` and
``perfop.compare.slo`` re-export them. ``load_evidence`` reads a
whole ``validations.evidence`` document into a ``StoredEvidence``; each part has its own loader,
tolerant of every shape perfop stored (a missing, null or malformed part loads as its default).

Stored form of the evidence document (``engagement/validate.py``; older keys still read):
  comparison_id, comparison_ids   the comparisons it links (rows of ``workloads`` may link more)
  comparison      an embedded ``perfop.comparison/N`` document (older evidence; its ``id``, else
                  the first linked id, is the comparison's)
  seed            the pair order's seed
  budget          max_time, max_pairs (the flags validate was given); older: max_runs
  workloads       ``WorkloadEvidence.to_dict()`` rows; older rows without a verdict only link a
                  workload's comparison_id
  tests           ``TestEvidence.to_dict()``: command, candidate_ok, base_ok, candidate_tail,
                  base_tail, warnings; older: argv, passed (or exit_code), base_passed,
                  output_tail or tail, summary
  slos            ``SLOResult.to_dict()`` rows (``compare.slo`` checks them); older rows (before
                  SLOs were checked at base too) have no state: a breach then is the candidate's
                  (newly broken)
  goals           ``engagement.goals.GoalCheck.to_dict()`` rows
  environment     {candidate, base}: one probe per interpreter (``validate._probe_side``)
  stacked_on      {label, sha}: the hypothesis whose candidate was the base
  outcome, contention, cpu_vs_wall, plans, method: stored, not read back here
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from perfop.records.comparison import StoredComparison, load_comparison
from perfop.records.measured import packages_of, stored_int, stored_number

# --- what validate decides on (and stores) -----------------------------------------------------


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
    mde: float | None = None  # minimum detectable effect (fraction) at the pairs measured

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
    warnings: tuple[str, ...] = ()  # e.g. the package imported from outside the checkout

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- loading helpers -----------------------------------------------------------------------------


def _fnum(value: Any) -> float | None:
    """A stored number, or None where there is none (see ``stored_number``)."""
    out = stored_number(value)
    return None if math.isnan(out) else out


def _id(value: Any) -> int | None:
    """A stored record id: a number, or its digits."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return stored_int(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [r for r in value if isinstance(r, Mapping)] if isinstance(value, list | tuple) else []


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def command_text(command: Any) -> str:
    """A stored command: a string as it is, an argv joined for a shell."""
    if isinstance(command, list | tuple):
        return shlex.join(str(c) for c in command)
    return "" if command is None else str(command)


def load_workload_evidence(row: Mapping[str, Any]) -> WorkloadEvidence:
    """One stored ``workloads`` row (a ``WorkloadEvidence.to_dict()``)."""
    return WorkloadEvidence(
        workload=str(row.get("workload") or "?"),
        metric=str(row.get("metric") or "wall_time"),
        verdict=str(row.get("verdict") or "inconclusive"),
        ratio=_fnum(row.get("ratio")),
        ci_low=_fnum(row.get("ci_low")),
        ci_high=_fnum(row.get("ci_high")),
        gate=bool(row.get("gate", True)),
        behaviour_changed=bool(row.get("behaviour_changed")),
        candidate_failures=stored_int(row.get("candidate_failures")) or 0,
        comparison_id=_id(row.get("comparison_id")),
        targeted=bool(row.get("targeted", True)),
        mde=_fnum(row.get("mde")),
    )


# --- tests ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredTests:
    """The test command's result as stored (``passed`` None: the record does not say)."""

    __test__ = False

    command: str
    passed: bool | None  # at the candidate
    base_passed: bool | None  # only known when the candidate failed and base was run
    output_tail: str  # the candidate's
    base_tail: str
    summary: str  # as stored, else the tail's last non-empty line
    warnings: tuple[str, ...]

    def evidence(self) -> TestEvidence | None:
        """The ``TestEvidence`` the outcome rules take (None when ``passed`` is unknown)."""
        if self.passed is None:
            return None
        return TestEvidence(
            self.command,
            candidate_ok=self.passed,
            base_ok=self.base_passed,
            candidate_tail=self.output_tail,
            base_tail=self.base_tail,
            warnings=self.warnings,
        )


def _first(doc: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` the document has (null included), else None."""
    return next((doc[k] for k in keys if k in doc), None)


def load_tests(value: Any) -> StoredTests | None:
    """A stored ``tests`` object (None: no test command was run)."""
    if not isinstance(value, Mapping):
        return None
    passed = _first(value, "candidate_ok", "passed")
    if passed is None and "exit_code" in value:
        passed = value["exit_code"] == 0
    tail = str(value.get("candidate_tail") or value.get("output_tail") or value.get("tail") or "")
    summary = str(value.get("summary") or "")
    if not summary:
        lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
        summary = lines[-1] if lines else ""
    return StoredTests(
        command=command_text(value.get("command") or value.get("argv") or ""),
        passed=_flag(passed),
        base_passed=_flag(_first(value, "base_ok", "base_passed")),
        output_tail=tail,
        base_tail=str(value.get("base_tail") or ""),
        summary=summary,
        warnings=_strings(value.get("warnings")),
    )


# --- SLOs, goals, budget, the probed interpreters ------------------------------------------------

# Records from before SLOs were checked at base too: a breach is the candidate's.
_LEGACY_STATE = {True: "met", False: "newly broken", None: "no data"}


SLOState = Literal["met", "still not met", "newly broken", "made worse", "not trusted", "no data"]


@dataclass(frozen=True)
class SLOResult:
    """Outcome of one SLO at the candidate (``value``) and at base (``base_value``).

    ``passed`` is the candidate's check (None when there were no values to judge); ``state``
    classifies it against base and contention; ``reason`` is the one line shown everywhere.
    ``perfop.compare.slo`` makes it (and re-exports it); ``load_slo`` reads it back.
    """

    workload: str
    metric: str
    statistic: str
    value: float | None
    max: float | None
    min: float | None
    n: int
    passed: bool | None
    reason: str
    unit: str = ""  # "" in older rows: the reader knows it from the metric
    base_value: float | None = None
    base_passed: bool | None = None
    state: SLOState = "met"
    contention: str | None = None  # e.g. "load 6.1 on 2 cores", when it was high

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_slo(row: Mapping[str, Any]) -> SLOResult:
    """One stored ``slos`` row (an unknown state word stays as stored: readers show it)."""
    passed = row.get("passed")
    passed = passed if isinstance(passed, bool) else None
    contention = row.get("contention")
    return SLOResult(
        workload=str(row.get("workload") or "?"),
        metric=str(row.get("metric") or "wall_time"),
        statistic=str(row.get("statistic") or "p95"),
        value=_fnum(row.get("value")),
        max=_fnum(row.get("max")),
        min=_fnum(row.get("min")),
        n=stored_int(row.get("n")) or 0,
        passed=passed,
        reason=str(row.get("reason") or ""),
        unit=str(row.get("unit") or ""),
        base_value=_fnum(row.get("base_value")),
        base_passed=_flag(row.get("base_passed")),
        state=cast(SLOState, str(row.get("state") or _LEGACY_STATE[passed])),
        contention=str(contention) if contention else None,
    )


@dataclass(frozen=True)
class StoredGoal:
    """One intake goal checked on one workload's evidence (``engagement.goals.GoalCheck``)."""

    goal: str
    target: str
    workload: str
    metric: str
    kind: str  # ratio | bound
    observed: float | None
    limit: float | None
    met: bool | None  # None: nothing measured to check it against
    statistic: str
    text: str  # the sentence the check described itself with

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_goal(row: Mapping[str, Any]) -> StoredGoal:
    met = row.get("met")
    return StoredGoal(
        goal=str(row.get("goal") or ""),
        target=str(row.get("target") or ""),
        workload=str(row.get("workload") or ""),
        metric=str(row.get("metric") or ""),
        kind=str(row.get("kind") or ""),
        observed=_fnum(row.get("observed")),
        limit=_fnum(row.get("limit")),
        met=met if isinstance(met, bool) else None,
        statistic=str(row.get("statistic") or "ratio"),
        text=str(row.get("text") or ""),
    )


@dataclass(frozen=True)
class StoredBudget:
    """The budget flags ``perfop validate`` was given (None: not given)."""

    max_time: float | None
    max_pairs: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_budget(value: Any) -> StoredBudget:
    doc = value if isinstance(value, Mapping) else {}
    return StoredBudget(
        max_time=_fnum(doc.get("max_time")),
        max_pairs=stored_int(_first(doc, "max_pairs", "max_runs")),
    )


@dataclass(frozen=True)
class StoredProbe:
    """One interpreter a validated workload ran with, as probed in its checkout."""

    executable: str  # "?" when not stored
    implementation: str
    version: str
    packages: tuple[tuple[str, str], ...]  # sorted by name
    origins: tuple[tuple[str, str], ...]  # project package -> where it imports from
    workloads: tuple[str, ...]
    outside_checkout: tuple[str, ...]  # warnings: the project imported from elsewhere

    def to_dict(self) -> dict[str, Any]:
        return {
            "executable": self.executable,
            "implementation": self.implementation,
            "version": self.version,
            "packages": dict(self.packages),
            "origins": dict(self.origins),
            "workloads": list(self.workloads),
            "outside_checkout": list(self.outside_checkout),
        }


def load_probe(doc: Mapping[str, Any]) -> StoredProbe:
    return StoredProbe(
        executable=str(doc.get("executable") or "?"),
        implementation=str(doc.get("implementation") or ""),
        version=str(doc.get("version") or ""),
        packages=packages_of(doc.get("packages")),
        origins=packages_of(doc.get("origins")),
        workloads=_strings(doc.get("workloads")),
        outside_checkout=_strings(doc.get("outside_checkout")),
    )


@dataclass(frozen=True)
class StoredProbes:
    """Both sides' probed interpreters (empty when the validation probed none)."""

    candidate: tuple[StoredProbe, ...]
    base: tuple[StoredProbe, ...]

    @property
    def warnings(self) -> list[str]:
        """The candidate side's "imports from outside the checkout" warnings."""
        return [w for p in self.candidate for w in p.outside_checkout]

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": [p.to_dict() for p in self.candidate],
            "base": [p.to_dict() for p in self.base],
        }


def load_probes(value: Any) -> StoredProbes:
    doc = value if isinstance(value, Mapping) else {}
    return StoredProbes(
        candidate=tuple(load_probe(p) for p in _rows(doc.get("candidate"))),
        base=tuple(load_probe(p) for p in _rows(doc.get("base"))),
    )


@dataclass(frozen=True)
class StackedOn:
    """The hypothesis whose candidate a stacked fix was measured against."""

    label: str
    sha: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_stacked_on(value: Any) -> StackedOn | None:
    if not isinstance(value, Mapping) or value.get("label") is None:
        return None
    sha = value.get("sha")
    return StackedOn(str(value["label"]), None if sha is None else str(sha))


# --- the whole document --------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredEvidence:
    """A validation's evidence document, as loaded."""

    comparison_ids: tuple[int, ...]  # linked, in order: comparison_id, comparison_ids, rows'
    comparison: StoredComparison | None  # embedded (older evidence)
    seed: int | None
    budget: StoredBudget
    workloads: tuple[WorkloadEvidence, ...]  # the rows with a verdict
    workload_rows: int  # rows in "workloads", with a verdict or only a comparison link
    tests: StoredTests | None
    slos: tuple[SLOResult, ...]
    goals: tuple[StoredGoal, ...]
    environment: StoredProbes
    stacked_on: StackedOn | None


def _comparison_ids(doc: Mapping[str, Any]) -> tuple[int, ...]:
    ids: list[int] = []
    links = [doc.get("comparison_id")]
    if isinstance(doc.get("comparison_ids"), list | tuple):
        links += list(doc["comparison_ids"])
    links += [w.get("comparison_id") for w in _rows(doc.get("workloads"))]
    for link in links:
        cid = _id(link)
        if cid is not None and cid not in ids:
            ids.append(cid)
    return tuple(ids)


def _embedded(doc: Mapping[str, Any], ids: tuple[int, ...]) -> StoredComparison | None:
    raw = doc.get("comparison")
    if not isinstance(raw, Mapping):
        return None
    cid = _id(raw["id"]) if "id" in raw else (ids[0] if ids else None)
    return load_comparison(raw, cid)


def load_evidence(value: Any) -> StoredEvidence:
    """A stored validation evidence document (anything not an object loads as empty)."""
    doc: Mapping[str, Any] = value if isinstance(value, Mapping) else {}
    ids = _comparison_ids(doc)
    rows = _rows(doc.get("workloads"))
    return StoredEvidence(
        comparison_ids=ids,
        comparison=_embedded(doc, ids),
        seed=stored_int(doc.get("seed")),
        budget=load_budget(doc.get("budget")),
        workloads=tuple(load_workload_evidence(w) for w in rows if "verdict" in w),
        workload_rows=len(rows),
        tests=load_tests(doc.get("tests")),
        slos=tuple(load_slo(r) for r in _rows(doc.get("slos"))),
        goals=tuple(load_goal(g) for g in _rows(doc.get("goals"))),
        environment=load_probes(doc.get("environment")),
        stacked_on=load_stacked_on(doc.get("stacked_on")),
    )
