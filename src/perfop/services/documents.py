"""The documents the tools answer with, as pydantic models: a tool's MCP ``outputSchema`` is its
return model's JSON schema, and its ``structuredContent`` is its document validated by (and
serialised from) that model (``perfop.mcp.outputs`` is this module under its old name).

Each model states what the CLI's ``--format json`` document holds (the tools answer the same
document); records keep keys a model does not name, so a document that grows never loses a field
on its way to the client. A new tool declares ``returns=SomeDoc`` in ``@tool``; a test checks
every tool's answer against its advertised schema through the official client.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from perfop.engagement.inventory import Finding
from perfop.profiling.model import HotSpot

Json = dict[str, Any]


class Record(BaseModel):
    """A JSON object whose named keys are typed; other keys pass through unchanged."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Document(Record):
    """A versioned document: ``schema`` names its format and version (e.g. ``perfop.run/2``)."""

    schema_id: str = Field(alias="schema", description="Format and version of the document.")


class EngagementDocument(Document):
    """A document of the engagement family (``perfop.engagement/1``), told apart by ``kind``."""

    schema_id: Literal["perfop.engagement/1"] = Field(alias="schema")
    kind: str = Field(description="Which engagement document this is.")


@cache
def output_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A tool's ``outputSchema``: its model's JSON schema, as the document is serialised."""
    override = getattr(model, "output_json_schema", None)
    if callable(override):
        return dict(override())
    schema = model.model_json_schema(mode="serialization", by_alias=True)
    schema.pop("title", None)
    return schema


def structured(model: type[BaseModel], doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` validated by ``model`` and serialised to JSON: a tool's ``structuredContent``."""
    return model.model_validate(doc).model_dump(mode="json", by_alias=True, exclude_unset=True)


# --- records shared by several documents ---------------------------------------------------------


class Decision(Record):
    """One entry of the decision log."""

    id: int
    ts: str
    actor: str = Field(description="Who: a person, or 'mcp:CLIENT (agent)' for an agent.")
    kind: str = Field(description="state-change, decision, risk, follow-up or stakeholder.")
    what: str
    why: str | None = None
    evidence: list[str] = Field(default_factory=list)
    hypothesis_id: int | None = None


class Hypothesis(Record):
    """A logged hypothesis and where it stands in the lifecycle."""

    id: int
    label: str = Field(description="Its id in tools and the CLI, e.g. H1.")
    statement: str
    status: str = Field(
        description="proposed, designed, approved, implemented, confirmed, refuted, "
        "inconclusive, rejected or reverted."
    )
    risk: str = Field(description="low, medium or high (high needs a human approval).")
    expected_ratio: float | None = Field(None, description="Predicted candidate/base ratio.")
    effort: float | None = Field(None, description="Person-days.")
    confidence: float | None = None
    components: list[str] = Field(default_factory=list)
    workloads: list[str] = Field(default_factory=list)
    metric: str | None = None
    root_cause: str | None = None
    verification: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    candidate_ref: str | None = None
    candidate_sha: str | None = None


class RankedHypothesis(Hypothesis):
    rank: int
    score: float = Field(description="Expected impact over effort (see formula).")
    gain: float
    last_validation: Json | None = Field(
        None, description="The latest validation: outcome, and per workload ratio, CI and MDE."
    )


class Design(Record):
    """A hypothesis's fix plan and safeguards."""

    id: int
    hypothesis_id: int
    fix: str
    fallback: str | None = None
    tests_to_add: list[str | Json] = Field(default_factory=list)
    rollback: str | None = None
    risk: str | None = None


class HypothesisDetail(Hypothesis):
    """One hypothesis with its design, approvals, validations and decisions."""

    needs_approval: bool
    design: Design | None = None
    approvals: list[Json] = Field(default_factory=list)
    validations: list[Json] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)


class Engagement(Record):
    """The engagement's intake (goals, workloads, SLOs, constraints...) and its state."""

    id: int
    title: str
    stage: str | None = None
    workloads: list[str] = Field(default_factory=list)
    goals: list[Json] = Field(default_factory=list)
    slos: list[Json] = Field(default_factory=list)
    open_questions: list[str | Json] = Field(default_factory=list)
    risk_tolerance: str | None = None
    confirmed_at: str | None = Field(None, description="When the intake was confirmed.")


class Check(Record):
    """One item of the hand-off checklist."""

    name: str
    passed: bool
    reason: str = Field(description="Why it passes or fails, and how to fix a failure.")


# --- engagement documents ------------------------------------------------------------------------


class StatusDoc(EngagementDocument):
    """Where the engagement stands and the one recommended next step."""

    kind: Literal["status"]
    engagement: Json | None = Field(None, description="id and title (none before the intake).")
    stage: str | None = Field(None, description="The lifecycle stage reached.")
    done: list[str] = Field(default_factory=list, description="What is done so far.")
    next: str | None = Field(None, description="The recommended next step.")


class IntakeDoc(EngagementDocument):
    kind: Literal["intake"]
    engagement: Engagement
    recap: str = Field(description="The intake recap in Markdown, open questions included.")


class Inventory(Record):
    """What the repository already has, per category; each finding is the scan's own record."""

    id: int
    created_at: str | None = None
    test_commands: list[Finding]
    benchmark_suites: list[Finding]
    ci_workflows: list[Finding]
    result_files: list[Finding]
    profilers: list[Finding]
    feature_flags: list[Finding]
    perfop_runs: list[Finding]


class InventoryDoc(EngagementDocument):
    kind: Literal["inventory"]
    inventory: Inventory


class NoteDoc(EngagementDocument):
    kind: Literal["decision"]
    decision: Decision


class LogDoc(EngagementDocument):
    kind: Literal["log"]
    decisions: list[Decision]


class VerifyDoc(EngagementDocument):
    kind: Literal["verify"]
    passed: bool = Field(description="True when every check passes.")
    checks: list[Check]


class HypothesisDoc(EngagementDocument):
    kind: Literal["hypothesis"]
    hypothesis: Hypothesis


class HypothesisListDoc(EngagementDocument):
    """The ranked list (kind hypotheses), or one hypothesis in detail (kind hypothesis)."""

    kind: Literal["hypotheses", "hypothesis"]
    formula: str | None = Field(None, description="How hypotheses are ranked.")
    hypotheses: list[RankedHypothesis] | None = None
    hypothesis: HypothesisDetail | None = None


class DesignDoc(EngagementDocument):
    kind: Literal["design"]
    hypothesis: Hypothesis
    design: Design


class ApprovalRequestDoc(EngagementDocument):
    kind: Literal["approval-request"]
    hypothesis: str = Field(description="The hypothesis label.")
    status: str
    needs_approval: bool
    approved: bool
    pending: bool = Field(description="True until a human approves.")
    command: str = Field(description="The command the human runs to approve.")
    decision: Decision


class OutcomeDoc(Record):
    """What a validation concluded (docs/outcomes.md's rules), and what to do about it: the
    document of ``perfop.records.outcome.Outcome.to_dict()`` (its ``qualifier`` passes through)."""

    status: str
    headline: str = Field(description="The status, with its qualifier (e.g. SLO still not met).")
    reasons: list[str]
    contradicts: bool
    rule: str = ""
    advice: str = Field("", description="What to do next.")
    advises_revert: bool = False
    regressions: list[str] = Field(default_factory=list)
    residual_risks: list[str] = Field(default_factory=list)


class ValidationDoc(EngagementDocument):
    kind: Literal["validation"]
    hypothesis: Hypothesis
    validation: Json
    status: str = Field(description="The hypothesis's status after the evidence.")
    contradicts: bool = Field(description="True when the measured effect contradicts it.")
    outcome: OutcomeDoc
    comparison_id: int | None


# --- measuring documents -------------------------------------------------------------------------


class RunRecord(Record):
    id: int
    workload: str
    status: str
    command: list[str]
    cwd: str | None = None
    settings: Json
    metrics: dict[str, Json] = Field(description="Per metric: unit, better, summary.")
    samples: list[Json] = Field(description="Every sample: index and metrics.")
    failures: list[Json]
    stopped: str | None = Field(None, description="Why measuring stopped early, if it did.")
    contention: Json | None = None


class RunDoc(Document):
    schema_id: Literal["perfop.run/2"] = Field(alias="schema")
    perfop_version: str
    environment: Json
    runs: list[RunRecord]


class RunSummary(Record):
    id: int
    workload: str
    kind: str
    status: str
    ref: str | None = None
    sha: str | None = None
    comparison_id: int | None = None
    samples_count: int
    failures_count: int


class RunsDoc(Document):
    schema_id: Literal["perfop.runs/1"] = Field(alias="schema")
    runs: list[RunSummary]


class Cause(Record):
    id: str = Field(description="A hot spot's id.")
    callees_dominate: bool = Field(
        description="Its callees hold its time: often the code to change."
    )


class ProfilePart(Record):
    kind: str = Field(description="cpu or memory.")
    backend: str
    unit: str
    total: float
    wall_time: float
    sample_count: int
    hotspots: list[HotSpot] = Field(description="Ranked by self time; cite their ids as evidence.")
    causes: list[Cause] = Field(description="The repository's functions by inclusive time.")
    artifacts: dict[str, str] = Field(
        description="Files written (flame graphs, raw profiles), relative to the repository."
    )
    notes: list[str] = Field(default_factory=list)


class ProfileDoc(Document):
    schema_id: Literal["perfop.profile/1"] = Field(alias="schema")
    id: str
    workload: str | None
    ref: str | None = None
    sha: str | None = None
    artifact_dir: str = Field(description="Where its files are, relative to the repository.")
    parts: list[ProfilePart]


class ProfileDiffDoc(Document):
    schema_id: Literal["perfop.profile-diff/1"] = Field(alias="schema")
    base: ProfileDoc
    candidate: ProfileDoc
    diffs: list[Json] = Field(description="Per part: where time or memory moved.")


class TriageDoc(Document):
    schema_id: Literal["perfop.triage/1"] = Field(alias="schema")
    failed: bool
    failing_step: str | None
    steps: list[str]
    failures: list[Json]
    tracebacks: list[Json]
    timeouts: list[str]
    likely_flaky: list[str]


# --- comparing and reporting ---------------------------------------------------------------------


Number = float | None  # null where the statistic is not finite


class MetricComparison(Record):
    """One metric of an A/B comparison: candidate/base ratio with its confidence interval."""

    name: str
    unit: str | None
    better: str = Field(description="lower or higher.")
    base_median: Number
    candidate_median: Number
    ratio: Number = Field(description="Candidate/base (geometric mean of the paired ratios).")
    ci_low: Number
    ci_high: Number
    p_value: Number
    verdict: str
    pairs: int
    mde: Number = Field(description="The smallest change this comparison could detect.")


class WorkloadComparison(Record):
    name: str
    verdict: str | None = Field(description="faster, slower, unchanged or inconclusive.")
    pairs: int
    behavior: str | None = Field(None, description="Whether the output changed.")
    primary_metric: str | None = None
    failure: str | None = None
    stop_reason: str | None = None
    mde: Number = None
    to_decide: Json | None = Field(
        None,
        description="Inconclusive only: the pairs (and seconds) a verdict would take at the "
        "noise measured: {verdict: unchanged|changed, pairs, seconds}.",
    )
    notices: list[str] = Field(default_factory=list)
    runs: dict[str, int | None] = Field(description="The base and candidate run ids.")
    metrics: list[MetricComparison]


class Side(Record):
    ref: str | None
    sha: str | None


class ComparisonDoc(Document):
    schema_id: Literal["perfop.comparison/2"] = Field(alias="schema")
    id: int | None = Field(description="The stored comparison (read it back with show).")
    base: Side
    candidate: Side
    seed: int | None
    threshold: float
    alpha: float
    workloads: list[WorkloadComparison]


class ReportDoc(Document):
    """The hand-off report's JSON document (``perfop.report``), as its JSON Schema states."""

    @classmethod
    def output_json_schema(cls) -> dict[str, Any]:
        """The report's JSON Schema, or the answer before any engagement (``NoReport``)."""
        from perfop.report.jsonfmt import json_schema

        report = dict(json_schema())
        defs = dict(report.pop("$defs", {}))
        head: dict[str, Any] = {
            k: report.pop(k) for k in ("$schema", "$id", "title") if k in report
        }
        defs["Report"] = report
        defs["NoReport"] = NoReport.model_json_schema(
            mode="serialization", by_alias=True, ref_template="#/$defs/NoReport/$defs/{model}"
        )
        return {
            **head,
            "type": "object",
            "required": ["schema", "engagement"],
            "anyOf": [{"$ref": "#/$defs/Report"}, {"$ref": "#/$defs/NoReport"}],
            "$defs": defs,
        }


class NoReport(BaseModel):
    """``report`` on a repository without an engagement: nothing to report, and how to start."""

    model_config = ConfigDict(extra="forbid")

    schema_: Literal["perfop.report.none/1"] = Field(alias="schema")
    engagement: None = Field(description="No engagement has been recorded yet.")
    message: str
    next_step: Json = Field(description="The tool call that starts one (intake).")
