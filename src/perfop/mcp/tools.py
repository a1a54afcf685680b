"""The MCP tool registry and the engagement tools (intake, hypotheses, design, log, verify ...).

A tool is an argument model (its JSON schema is the tool's input schema) and a function that calls
the same service function as the CLI verb and returns the same JSON document as ``--format json``,
plus one short line of text. Tools hold no lifecycle logic: the services enforce the rules, with
the server's agent ``Actor`` (so approvals and sign-offs are refused there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from perfop.mcp.guards import CancelToken, check_components, check_ref, confine_path

if TYPE_CHECKING:
    from perfop.config import LoadedConfig
    from perfop.engagement.records import Actor
    from perfop.store import Store

ENGAGEMENT_SCHEMA = "perfop.engagement/1"  # the documents of perfop.cli.engagement


class Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LongArgs(Args):
    """Arguments of tools that run processes."""

    max_seconds: float | None = Field(
        None,
        gt=0,
        description="Stop the call after this many seconds (like Ctrl-C: interrupted records "
        "are kept, worktrees removed) and answer with a timeout error.",
    )


@dataclass
class Answer:
    """What a tool returns: the JSON document, a short text, and whether it is a failure."""

    doc: dict[str, Any]
    text: str
    is_error: bool = False


class App:
    """Server state shared by every call: repository, config and store (opened once, lazily)."""

    def __init__(
        self, repo: Path | None, *, store_url: str | None = None, config: Path | None = None
    ) -> None:
        self.repo = repo
        self.config_path = config
        self.store_override = store_url
        self.actor_name = "mcp-client"
        self._loaded: LoadedConfig | None = None
        self._store: Store | None = None

    @property
    def loaded(self) -> LoadedConfig:
        # Loaded once: the workloads an agent may run are those configured when the server started.
        if self._loaded is None:
            from perfop.config import load_config

            self._loaded = load_config(self.repo, config_path=self.config_path)
        return self._loaded

    @property
    def repo_root(self) -> Path:
        return self.loaded.repo_root

    @property
    def store(self) -> Store:
        if self._store is None:
            from perfop.config import store_url
            from perfop.store import open_store

            self._store = open_store(store_url(self.loaded, self.store_override))
        return self._store

    @property
    def actor(self) -> Actor:
        from perfop.engagement.records import Actor

        return Actor(name=f"mcp:{self.actor_name}", kind="agent")

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@dataclass
class Call:
    """One tool call as a service sees it: the app, a progress sink and the cancel token."""

    app: App
    token: CancelToken = field(default_factory=CancelToken)
    progress: Callable[[float, float | None, str], None] = lambda done, total, msg: None

    def path(self, value: str, argument: str) -> Path:
        return confine_path(self.app.repo_root, value, argument=argument)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[Args]
    fn: Callable[[Call, Any], Answer]
    long: bool = False  # runs processes: worker thread, progress, cancellable, time-limited
    read_only: bool = False
    raw: tuple[str, ...] = ()  # arguments passed through unvalidated to a service that checks them


TOOLS: dict[str, Tool] = {}


def tool(
    name: str,
    args: type[Args],
    description: str,
    *,
    long: bool = False,
    read_only: bool = False,
    raw: tuple[str, ...] = (),
) -> Callable[[Callable[[Call, Any], Answer]], Callable[[Call, Any], Answer]]:
    def register(fn: Callable[[Call, Any], Answer]) -> Callable[[Call, Any], Answer]:
        TOOLS[name] = Tool(name, " ".join(description.split()), args, fn, long, read_only, raw)
        return fn

    return register


def _doc(kind: str, **body: Any) -> dict[str, Any]:
    return {"schema": ENGAGEMENT_SCHEMA, "kind": kind, **body}


# --- status, intake, inventory -------------------------------------------------------------------


class NoArgs(Args):
    pass


@tool(
    "status",
    NoArgs,
    """Where the current engagement stands: its lifecycle stage (intake, baseline, hypotheses,
    design, implementation, validation, documentation, hand-off), what is done, and the one
    recommended next step. Call it first in every session.""",
    read_only=True,
)
def status(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import checks

    report = checks.status(call.app.store, call.app.loaded)
    doc = _doc("status", **report.to_dict())
    return Answer(doc, f"stage: {doc['stage']}; next: {doc['next']}")


class IntakeArgs(Args):
    spec: dict[str, Any] | None = Field(
        None,
        description="A new engagement: title (required), requester, scenario, goals (text or "
        "{text, metric, target}), workloads (configured names), slos ({workload, metric, "
        "statistic, max|min, unit}), constraints, stakeholders ({name, role}), assumptions, "
        "risk_tolerance (low|medium|high), open_questions, base, hardware, dataset, traffic, "
        "dashboards, regression_tests, data_sources.",
    )
    from_file: str | None = Field(
        None, description="A YAML or TOML intake file inside the repository (instead of spec)."
    )
    confirm: bool = Field(
        False,
        description="Mark the intake confirmed (after the human answered the open questions).",
    )


@tool(
    "intake",
    IntakeArgs,
    """Record a new performance engagement (spec or from_file), confirm the current one
    (confirm=true), or with no arguments return the current one. Answers with the recap and the
    open questions to put to the human before optimising anything.""",
    raw=("spec",),
)
def intake(call: Call, args: IntakeArgs) -> Answer:
    from perfop.engagement import service
    from perfop.engagement.intake import load_intake
    from perfop.errors import UsageError

    app = call.app
    if args.spec is not None and args.from_file is not None:
        raise UsageError("intake: give spec or from_file, not both")
    if args.from_file is not None:
        spec = load_intake(call.path(args.from_file, "from_file"), app.loaded.config)
        eng = service.start_engagement(
            app.store, app.loaded, spec, actor=app.actor, confirm=args.confirm
        )
    elif args.spec is not None:
        spec = service.parse_intake_mapping(args.spec, app.loaded, "intake.spec")
        eng = service.start_engagement(
            app.store, app.loaded, spec, actor=app.actor, confirm=args.confirm
        )
    elif args.confirm:
        eng = service.confirm_intake(app.store, actor=app.actor)
    else:
        eng = service.current(app.store)
    recap = service.recap(app.store, eng)
    return Answer(_doc("intake", engagement=eng.to_dict(), recap=recap), recap)


@tool(
    "inventory",
    NoArgs,
    """Scan the repository for what it already has (tests, benchmarks, CI, stored results,
    profilers, feature flags) plus prior perfop runs, and record the inventory on the
    engagement.""",
)
def inventory(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import service

    result = service.run_inventory(call.app.store, call.app.loaded, actor=call.app.actor)
    doc = _doc("inventory", inventory=result.to_dict())
    inv = result.inventory
    counts = ", ".join(f"{k}={len(getattr(inv, k))}" for k in inv.CATEGORIES)
    return Answer(doc, f"inventory {result.id}: {counts}")


# --- hypotheses and design -----------------------------------------------------------------------

Number = float | str
RiskLevel = Literal["low", "medium", "high"]


class HypothesisFields(Args):
    root_cause: str | None = Field(None, description="The suspected cause (from a profile).")
    components: list[str] | None = Field(
        None, description="Files (inside the repository) or modules the change touches."
    )
    workloads: list[str] | None = Field(
        None, description="Configured workloads it should move (default: the engagement's)."
    )
    metric: str | None = Field(None, description="Metric it moves (default wall_time).")
    expected_ratio: Number | None = Field(
        None, description="Predicted candidate/base ratio: 0.8, '-20%' or '0.5x'."
    )
    effort: Number | None = Field(None, description="Person-days: 0.5, '4h', '2d', '1w'.")
    confidence: Number | None = Field(None, description="0..1 or low/medium/high.")
    risk: RiskLevel | None = Field(None, description="low, medium or high (high needs a human).")
    verification: list[str] | None = Field(None, description="Steps that would verify it.")
    evidence: list[str] | None = Field(
        None, description="References: hotspot:ID, profile:ID, run:ID, comparison:ID."
    )


def _parsed(parse: Callable[[Any], float], value: Any, flag: str, argument: str) -> float | None:
    """Parse with the CLI's parser; its message names the tool argument instead of the flag."""
    from perfop.errors import UsageError

    if value is None:
        return None
    try:
        return parse(value)
    except UsageError as exc:
        raise UsageError(exc.message.replace(flag, argument, 1)) from None


def _hypothesis_fields(call: Call, args: HypothesisFields) -> dict[str, Any]:
    from perfop.engagement.hypotheses import parse_confidence, parse_effort, parse_ratio

    if args.components:
        check_components(call.app.repo_root, args.components, argument="components")
    fields: dict[str, Any] = {
        "root_cause": args.root_cause,
        "components": args.components,
        "workloads": args.workloads,
        "metric": args.metric,
        "expected_ratio": _parsed(parse_ratio, args.expected_ratio, "--expect", "expected_ratio"),
        "effort": _parsed(parse_effort, args.effort, "--effort", "effort"),
        "confidence": _parsed(parse_confidence, args.confidence, "--confidence", "confidence"),
        "risk": args.risk,
        "verification": args.verification,
        "evidence": args.evidence,
    }
    return {k: v for k, v in fields.items() if v is not None}


class HypothesisAddArgs(HypothesisFields):
    statement: str = Field(description="What you expect to change and why, in one sentence.")


@tool(
    "hypothesis_add",
    HypothesisAddArgs,
    """Log a performance hypothesis (status proposed) with its predicted benefit
    (expected_ratio), effort, confidence, risk and verification steps. Base it on a profile's
    hot spots and cite them in evidence.""",
)
def hypothesis_add(call: Call, args: HypothesisAddArgs) -> Answer:
    from perfop.engagement import lifecycle

    fields = _hypothesis_fields(call, args)
    fields.setdefault("risk", "low")
    hyp = lifecycle.add(
        call.app.store, call.app.loaded, actor=call.app.actor, statement=args.statement, **fields
    )
    return Answer(_doc("hypothesis", hypothesis=hyp.to_dict()), f"{hyp.label} proposed")


class HypothesisListArgs(Args):
    label: str | None = Field(
        None, description="One hypothesis (e.g. H1) in detail: design, approvals, validations."
    )


@tool(
    "hypothesis_list",
    HypothesisListArgs,
    """The engagement's hypotheses ranked by expected impact over effort, or one in detail
    (label) with its design, approvals, validations and decisions.""",
    read_only=True,
)
def hypothesis_list(call: Call, args: HypothesisListArgs) -> Answer:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import RANKING_FORMULA

    if args.label is not None:
        detail = lifecycle.show(call.app.store, call.app.loaded, args.label)
        doc = _doc("hypothesis", hypothesis=detail.to_dict())
        h = detail.hypothesis
        approval = "approved" if detail.approvals else "not approved"
        needs = f", needs a human approval ({approval})" if detail.needs_approval else ""
        return Answer(doc, f"{h.label} [{h.status.value}] {h.statement}{needs}")
    ranked = lifecycle.ranked(call.app.store)
    doc = _doc(
        "hypotheses",
        formula=RANKING_FORMULA,
        hypotheses=[
            {"rank": r.rank, "score": r.score, "gain": r.gain, **r.hypothesis.to_dict()}
            for r in ranked
        ],
    )
    lines = [f"{r.rank}. {r.hypothesis.label} [{r.hypothesis.status.value}]" for r in ranked]
    return Answer(doc, "; ".join(lines) or "no hypotheses yet")


class HypothesisUpdateArgs(HypothesisFields):
    label: str = Field(description="Hypothesis id, e.g. H1.")
    statement: str | None = Field(None, description="New statement.")
    status: Literal["reverted", "rejected", "refuted", "inconclusive", "implemented"] | None = (
        Field(
            None,
            description="Set by hand: reverted, rejected, refuted, inconclusive, or implemented "
            "(with candidate). confirmed comes only from validate; approved only from a human.",
        )
    )
    candidate: str | None = Field(
        None, description="Git ref of the commit that implements it (moves it to implemented)."
    )
    note: str | None = Field(None, description="Why (goes to the decision log).")


@tool(
    "hypothesis_update",
    HypothesisUpdateArgs,
    """Edit a hypothesis, record the candidate commit that implements it, or set a manual
    status. Never confirms (only validate does, from evidence) and never approves.""",
)
def hypothesis_update(call: Call, args: HypothesisUpdateArgs) -> Answer:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import parse_status

    fields = _hypothesis_fields(call, args)
    if args.statement is not None:
        fields["statement"] = args.statement
    candidate = check_ref(args.candidate, argument="candidate") if args.candidate else None
    hyp = lifecycle.update(
        call.app.store,
        call.app.loaded,
        args.label,
        actor=call.app.actor,
        status=parse_status(args.status) if args.status else None,
        candidate=candidate,
        note=args.note,
        **fields,
    )
    doc = _doc("hypothesis", hypothesis=hyp.to_dict())
    return Answer(doc, f"{hyp.label} [{hyp.status.value}] {hyp.statement}")


class DesignArgs(Args):
    label: str = Field(description="Hypothesis id, e.g. H1.")
    fix: str = Field(description="The proposed change.")
    fallback: str | None = Field(None, description="Plan B if the fix does not pan out.")
    data_collection: str | None = Field(None, description="What to measure to decide.")
    feature_flag: str | None = Field(None, description="Feature flag guarding the change.")
    kill_switch: str | None = Field(None, description="How to turn it off in production.")
    tests_to_add: list[str] = Field(default_factory=list, description="Tests to add.")
    rollback: str | None = Field(None, description="How to roll it back.")
    coverage: str | None = Field(None, description="Required test coverage.")
    risk: RiskLevel | None = Field(None, description="Re-rate the risk: low, medium or high.")


@tool(
    "design",
    DesignArgs,
    """Record the fix plan of a hypothesis and its safeguards (fallback, data to collect, feature
    flag, kill switch, tests, rollback, risk); it moves to designed. A high-risk design then
    needs a human approval: ask for it with request_approval.""",
)
def design(call: Call, args: DesignArgs) -> Answer:
    from perfop.engagement import lifecycle

    data = args.model_dump(exclude={"label"})
    hyp, rec = lifecycle.design(
        call.app.store, call.app.loaded, args.label, actor=call.app.actor, **data
    )
    doc = _doc("design", hypothesis=hyp.to_dict(), design=rec.to_dict())
    return Answer(doc, f"{hyp.label} [{hyp.status.value}] design {rec.id} recorded")


class RequestApprovalArgs(Args):
    label: str = Field(description="Hypothesis id, e.g. H1.")
    reason: str = Field(description="Why the change is worth the risk, for the human approver.")


@tool(
    "request_approval",
    RequestApprovalArgs,
    """Ask a human to approve a risky hypothesis: records a pending request in the decision log
    with the command the human runs (perfop approve H --by NAME). It never grants an approval;
    the hypothesis stays unapproved until a human acts.""",
)
def request_approval(call: Call, args: RequestApprovalArgs) -> Answer:
    from perfop.engagement import lifecycle, service
    from perfop.errors import UsageError

    if not args.reason.strip():
        raise UsageError("request_approval: reason is empty; say why the risk is worth it")
    app = call.app
    detail = lifecycle.show(app.store, app.loaded, args.label)
    hyp = detail.hypothesis
    command = f"perfop approve {hyp.label} --by NAME"
    entry = service.add_note(
        app.store,
        f"approval requested for {hyp.label} ({hyp.risk} risk): {args.reason.strip()}; "
        f"a human approves with: {command}",
        kind="stakeholder",
        actor=app.actor,
        evidence=(f"hypothesis:{hyp.label}",),
    )
    approved = bool(detail.approvals)
    doc = _doc(
        "approval-request",
        hypothesis=hyp.label,
        status=hyp.status.value,
        needs_approval=detail.needs_approval,
        approved=approved,
        pending=not approved,
        command=command,
        decision=entry.to_dict(),
    )
    state = "already approved" if approved else "pending: a human must run " + command
    return Answer(doc, f"approval of {hyp.label} requested ({state})")


# --- notes, log, verify --------------------------------------------------------------------------


class NoteArgs(Args):
    text: str = Field(description="The note.")
    kind: Literal["stakeholder", "decision", "risk", "follow-up"] = Field(
        "decision", description="stakeholder, decision, risk or follow-up."
    )
    evidence: list[str] = Field(default_factory=list, description="References (run:ID ...).")


@tool("note", NoteArgs, "Add a note (decision, risk, follow-up, stakeholder) to the decision log.")
def note(call: Call, args: NoteArgs) -> Answer:
    from perfop.engagement import service

    entry = service.add_note(
        call.app.store,
        args.text,
        kind=args.kind,
        actor=call.app.actor,
        evidence=tuple(args.evidence),
    )
    return Answer(_doc("decision", decision=entry.to_dict()), f"noted ({entry.kind}) #{entry.id}")


@tool(
    "log",
    NoArgs,
    "The engagement's decision log: every state change and note, who did it, why, evidence.",
    read_only=True,
)
def log(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import service

    entries = service.decision_log(call.app.store)
    doc = _doc("log", decisions=[d.to_dict() for d in entries])
    return Answer(doc, f"{len(entries)} decision-log entries")


@tool(
    "verify",
    NoArgs,
    """The hand-off checklist: every lifecycle stage checked against its records (intake
    confirmed, hypotheses, designs and approvals, implementation, fresh validation, report,
    sign-off). passed is false while any item fails; each item says how to fix it.""",
    read_only=True,
)
def verify(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import checks

    results = checks.verify(call.app.store, call.app.loaded)
    ok = all(r.passed for r in results)
    doc = _doc("verify", passed=ok, checks=[r.to_dict() for r in results])
    failing = [r.name for r in results if not r.passed]
    text = "verify: all checks passed" if ok else f"verify: failing: {', '.join(failing)}"
    return Answer(doc, text)
