"""The engagement's records: plain frozen data, no I/O.

An ``Engagement`` holds what the requester wants (goals, workloads, SLO targets, constraints,
stakeholders ...); ``Hypothesis``, ``Design``, ``Approval``, ``Decision`` and ``Validation`` are the
records each later stage leaves. ``Actor`` says who acts: a human or an agent (agents may request an
approval, never grant one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Literal

Risk = Literal["low", "medium", "high"]
RISKS: tuple[str, ...] = ("low", "medium", "high")
NOTE_KINDS: tuple[str, ...] = ("stakeholder", "decision", "risk", "follow-up")
# Decision-log kinds written automatically (not accepted by ``perfop note``).
AUTO_KINDS: tuple[str, ...] = ("state-change",)


@dataclass(frozen=True)
class Actor:
    """Who performs an action. ``kind == "agent"`` for the MCP server and the agent runner."""

    name: str
    kind: Literal["human", "agent"] = "human"

    @property
    def is_agent(self) -> bool:
        return self.kind == "agent"

    def label(self) -> str:
        return self.name if self.kind == "human" else f"{self.name} (agent)"


class Stage(StrEnum):
    """The lifecycle stages of DESIGN.md, in order."""

    INTAKE = "intake"
    BASELINE = "baseline"
    HYPOTHESES = "hypotheses"
    DESIGN = "design"
    IMPLEMENTATION = "implementation"
    VALIDATION = "validation"
    DOCUMENTATION = "documentation"
    HANDOFF = "hand-off"


class Status(StrEnum):
    """Hypothesis status; transitions live in ``engagement.hypotheses``."""

    PROPOSED = "proposed"
    DESIGNED = "designed"
    APPROVED = "approved"
    IMPLEMENTED = "implemented"
    CONFIRMED = "confirmed"
    REFUTED = "refuted"
    INCONCLUSIVE = "inconclusive"
    REJECTED = "rejected"
    REVERTED = "reverted"


OUTCOMES: frozenset[Status] = frozenset(
    {Status.CONFIRMED, Status.REFUTED, Status.INCONCLUSIVE, Status.REJECTED}
)


@dataclass(frozen=True)
class Stakeholder:
    name: str
    role: str


@dataclass(frozen=True)
class Goal:
    """A goal in free text, optionally with a measurable target (``metric`` + ``target``)."""

    text: str
    metric: str | None = None
    target: str | None = None


@dataclass(frozen=True)
class SLOTarget:
    """An SLO target as given at intake or copied from the config's ``[[slos]]``."""

    workload: str
    metric: str = "wall_time"
    statistic: str = "p95"
    max: float | None = None
    min: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class QuestionAnswer:
    """An open question closed: answered (``answer``) or dropped as not applicable."""

    question: str
    answer: str
    by: str
    at: str
    dropped: bool = False


@dataclass(frozen=True)
class EngagementSpec:
    """What intake collects (from a file, flags or prompts), before it is stored."""

    title: str
    requester: str | None = None
    scenario: str | None = None
    goals: tuple[Goal, ...] = ()
    workloads: tuple[str, ...] = ()
    slos: tuple[SLOTarget, ...] = ()
    constraints: tuple[str, ...] = ()
    stakeholders: tuple[Stakeholder, ...] = ()
    assumptions: tuple[str, ...] = ()
    risk_tolerance: Risk | None = None
    open_questions: tuple[str, ...] = ()
    base: str | None = None
    hardware: str | None = None
    dataset: str | None = None
    traffic: str | None = None
    dashboards: tuple[str, ...] = ()
    regression_tests: tuple[str, ...] = ()
    data_sources: tuple[str, ...] = ()
    answers: tuple[QuestionAnswer, ...] = ()  # open questions closed since the intake

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Engagement:
    """A stored engagement: the spec plus its lifecycle state."""

    id: int
    spec: EngagementSpec
    stage: Stage
    current: bool
    confirmed_at: str | None
    created_at: str
    generated_questions: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def all_questions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.spec.open_questions + self.generated_questions))

    @property
    def open_questions(self) -> tuple[str, ...]:
        """The questions not answered or dropped yet."""
        closed = {a.question for a in self.spec.answers}
        return tuple(q for q in self.all_questions if q not in closed)

    @property
    def answered_questions(self) -> tuple[QuestionAnswer, ...]:
        """The closed questions that still apply (an amended intake may make some moot)."""
        asked = set(self.all_questions)
        return tuple(a for a in self.spec.answers if a.question in asked)

    def to_dict(self) -> dict[str, Any]:
        doc = self.spec.to_dict()
        doc.update(
            id=self.id,
            stage=str(self.stage),
            current=self.current,
            confirmed_at=self.confirmed_at,
            created_at=self.created_at,
            open_questions=list(self.open_questions),
        )
        return doc


@dataclass(frozen=True)
class Hypothesis:
    """A logged hypothesis. ``number`` is per engagement and shown as ``H<number>``."""

    id: int
    engagement_id: int
    number: int
    statement: str
    root_cause: str | None = None
    components: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    metric: str = "wall_time"
    expected_ratio: float = 0.9
    effort: float = 1.0
    confidence: float = 0.5
    risk: Risk = "low"
    verification: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    status: Status = Status.PROPOSED
    candidate_ref: str | None = None
    candidate_sha: str | None = None
    implemented_at: str | None = None
    created_at: str = ""
    updated_at: str = ""

    @property
    def label(self) -> str:
        return f"H{self.number}"

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = str(self.status)
        doc["label"] = self.label
        return doc


@dataclass(frozen=True)
class Design:
    """The fix plan and its safeguards for one hypothesis."""

    id: int
    hypothesis_id: int
    fix: str
    fallback: str | None = None
    data_collection: str | None = None
    feature_flag: str | None = None
    kill_switch: str | None = None
    tests_to_add: tuple[str, ...] = ()
    rollback: str | None = None
    coverage: str | None = None
    risk: Risk | None = None
    created_at: str = ""
    actor: str = ""
    # Items of tests_to_add marked done: item -> {"evidence": test id or commit, "by", "at"}.
    done: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def done_evidence(done: Mapping[str, Any], item: str) -> str | None:
    """The evidence an item of a design's ``tests_to_add`` was marked done with (``Design.done``;
    None: not done). An entry without its evidence says "None", as the report always showed."""
    entry = done.get(item)
    if not entry:
        return None
    return str(entry["evidence"] if isinstance(entry, Mapping) and "evidence" in entry else None)


@dataclass(frozen=True)
class Approval:
    """A human approval of a hypothesis ("approval") or a stakeholder sign-off ("acceptance")."""

    id: int
    engagement_id: int
    hypothesis_id: int | None
    kind: Literal["approval", "acceptance"]
    by: str
    note: str | None
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """One decision-log entry: automatic state change or a note."""

    id: int
    engagement_id: int
    ts: str
    actor: str
    kind: str
    what: str
    why: str | None = None
    evidence: tuple[str, ...] = ()
    hypothesis_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Validation:
    """The outcome of ``perfop validate`` for one hypothesis and candidate."""

    id: int
    hypothesis_id: int
    candidate_ref: str
    candidate_sha: str
    base_ref: str
    base_sha: str
    outcome: Status
    reasons: tuple[str, ...]
    evidence: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["outcome"] = str(self.outcome)
        return doc
