"""The report's records: plain frozen dataclasses, one ``ReportData`` per engagement.

Values are raw numbers in their metric's unit (seconds, bytes, ...); ratios are candidate/base.
A comparison's metrics, a workload's history and a validation's outcome are perfop's own records
(``MetricResult``, ``History``, ``Outcome`` from ``perfop.records``), loaded back from the store;
so are the sub-documents a measurement stores (``StoredContention``, ``StoredCpuWall``,
``StoredDecision`` from ``perfop.records.measured``): the report reads their fields, never a dict.
``perfop.report.data.collect`` fills them from the store; renderers only read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The engagement's own records, shown as they were given at intake.
from perfop.engagement.records import Goal as Goal
from perfop.engagement.records import SLOTarget as SLOTarget

# The records the report shares with the rest of perfop (one definition each).
from perfop.records.comparison import MetricResult as MetricResult
from perfop.records.history import History as History
from perfop.records.history import HistoryPoint as HistoryPoint
from perfop.records.measured import StoredContention, StoredCpuWall, StoredDecision
from perfop.records.outcome import Outcome as Outcome

REPORT_SCHEMA = "perfop.report/1"


@dataclass(frozen=True)
class EngagementInfo:
    id: int
    title: str
    requester: str | None
    scenario: str | None
    stage: str
    created_at: str
    confirmed_at: str | None
    base: str | None
    risk_tolerance: str | None
    goals: tuple[Goal, ...]
    workloads: tuple[str, ...]
    slos: tuple[SLOTarget, ...]
    constraints: tuple[str, ...]
    stakeholders: tuple[tuple[str, str], ...]  # (name, role)
    assumptions: tuple[str, ...]
    hardware: str | None = None
    dataset: str | None = None
    traffic: str | None = None


@dataclass(frozen=True)
class Settings:
    threshold: float
    alpha: float
    seed: int | None
    affinity: tuple[int, ...] | None
    test_command: str | None
    base: str | None
    config_file: str


@dataclass(frozen=True)
class MeasuredInterpreter:
    """The interpreter a measured workload ran with, as ``perfop validate`` probed it."""

    side: str  # "base and candidate", "base" or "candidate"
    workloads: tuple[str, ...]
    executable: str
    python: str  # "CPython 3.12.3"
    packages: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class EnvironmentInfo:
    hostname: str | None
    cpu: str | None
    logical_cores: int | None
    memory_bytes: int | None
    os: str | None
    python: str | None  # perfop's own interpreter
    git_sha: str | None
    packages: tuple[tuple[str, str], ...]  # perfop's own environment (not rendered)
    measured: tuple[MeasuredInterpreter, ...] = ()  # the measured project's interpreters
    measured_from: str | None = None  # "validation 3 (H2)" or "baseline commands"


@dataclass(frozen=True)
class WorkloadInfo:
    name: str
    command: str
    cwd: str | None
    env: tuple[tuple[str, str], ...]
    description: str | None
    primary_metric: str
    budget: str  # "min 5, max 15 runs, 20 s"


@dataclass(frozen=True)
class MetricStat:
    metric: str
    unit: str
    better: str
    n: int
    median: float
    mean: float
    p95: float
    stdev: float
    cv: float
    min: float
    max: float


@dataclass(frozen=True)
class Baseline:
    workload: str
    run_id: int
    ref: str | None
    sha: str | None
    started_at: str
    command: str
    samples: int
    failures: int
    metrics: tuple[MetricStat, ...]
    contention: StoredContention | None = None  # perfop.measure.contention summary of the run


@dataclass(frozen=True)
class WorkloadResult:
    """One workload of one A/B comparison; ``*_values`` are the primary metric's paired samples."""

    comparison_id: int | None
    workload: str
    pairs: int
    verdict: str
    behavior: str  # same | changed | unchecked
    behavior_diff: str | None
    harness: str
    harness_touched: bool
    primary_metric: str
    unit: str
    better: str
    metrics: tuple[MetricResult, ...]
    base_values: tuple[float, ...] = ()
    candidate_values: tuple[float, ...] = ()
    # Wall-time samples (base, candidate) when the verdict was decided on another metric (CPU
    # time): the p95 the summary quotes beside an SLO is wall time's.
    wall_values: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    errors: tuple[str, ...] = ()  # failures with their output tail
    behavior_note: str | None = None  # e.g. output lines that vary between runs, not compared
    contention: StoredContention | None = None  # perfop.measure.contention summary, its pairs
    cpu_vs_wall: StoredCpuWall | None = None  # perfop.compare.cpuwall, when both were measured
    decision: StoredDecision | None = None  # perfop.compare.pairs.Decision: what decided, why
    gate: bool = True

    @property
    def primary(self) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == self.primary_metric), None)


@dataclass(frozen=True)
class TestRun:
    command: str
    passed: bool | None
    summary: str
    output_tail: str = ""
    base_passed: bool | None = None  # only known when the candidate failed and base was run


@dataclass(frozen=True)
class SLOStatus:
    workload: str
    metric: str
    statistic: str
    value: float | None
    max: float | None
    min: float | None
    unit: str
    passed: bool | None
    reason: str
    base_value: float | None = None
    state: str = (
        "met"  # perfop.compare.slo.SLOState: met, still not met, newly broken, made worse, ...
    )
    contention: str | None = None  # set when measured under high contention


@dataclass(frozen=True)
class Mover:
    """One row of the base-vs-candidate profile diff (CPU: seconds of self time per run)."""

    function: str
    file: str
    status: str
    base_pct: float
    candidate_pct: float
    base_value: float
    candidate_value: float
    unit: str


@dataclass(frozen=True)
class ValidationResult:
    id: int
    hypothesis: str  # label, e.g. "H1"
    outcome: str
    reasons: tuple[str, ...]
    base_ref: str
    base_sha: str
    candidate_ref: str
    candidate_sha: str
    created_at: str
    workloads: tuple[WorkloadResult, ...]
    tests: TestRun | None
    slos: tuple[SLOStatus, ...]
    movers: tuple[Mover, ...]
    seed: int | None = None
    # The outcome under today's ``perfop.engagement.outcome.RULES``, recomputed from its stored
    # evidence: the summary, follow-ups, rollback advice and changelog all read this.
    derived: Outcome | None = None
    reproduce: str | None = None  # the exact perfop compare command of its comparison
    stacked_on: str | None = None  # the hypothesis whose candidate was its base (stacked fix)
    goals_unmet: tuple[str, ...] = ()  # the intake's goals this validation's evidence misses


@dataclass(frozen=True)
class DesignInfo:
    fix: str
    fallback: str | None
    data_collection: str | None
    feature_flag: str | None
    kill_switch: str | None
    tests_to_add: tuple[str, ...]
    rollback: str | None
    coverage: str | None
    risk: str | None
    done: dict[str, dict[str, str]] = field(default_factory=dict)  # tests added, with evidence


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str


@dataclass(frozen=True)
class HypothesisInfo:
    rank: int
    label: str
    statement: str
    root_cause: str | None
    components: tuple[str, ...]
    workloads: tuple[str, ...]
    metric: str
    expected_ratio: float
    measured_ratio: float | None
    status: str
    risk: str
    effort: float
    confidence: float
    evidence: tuple[str, ...]
    verification: tuple[str, ...]
    candidate_ref: str | None
    candidate_sha: str | None
    design: DesignInfo | None
    approvals: tuple[str, ...]
    commits: tuple[Commit, ...]


@dataclass(frozen=True)
class DecisionEntry:
    ts: str
    actor: str
    kind: str
    what: str
    why: str | None
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class ReportData:
    """One engagement, ready to render."""

    generated_at: str
    perfop_version: str
    repository: str
    engagement: EngagementInfo
    settings: Settings
    environment: EnvironmentInfo | None
    workloads: tuple[WorkloadInfo, ...]
    baselines: tuple[Baseline, ...]
    hypotheses: tuple[HypothesisInfo, ...]
    validations: tuple[ValidationResult, ...]
    history: tuple[History, ...]
    decisions: tuple[DecisionEntry, ...]
    open_questions: tuple[str, ...]
    acceptances: tuple[str, ...] = ()
    answered_questions: tuple[str, ...] = ()  # closed since the intake: question, who, answer

    def hypothesis(self, label: str) -> HypothesisInfo | None:
        return next((h for h in self.hypotheses if h.label == label), None)

    def validations_of(self, label: str) -> list[ValidationResult]:
        return [v for v in self.validations if v.hypothesis == label]
