"""The MCP tool registry and the engagement tools (status, intake, inventory, note, log, verify).

A tool is an argument model (its JSON schema is the tool's input schema), a return model (its JSON
schema is the tool's output schema, see ``outputs``) and a function that calls the same service
function as the CLI verb and returns the same JSON document as ``--format json``, plus one short
line of text. Tools hold no lifecycle logic: the services enforce the rules, with
the server's agent ``Actor`` (so approvals and sign-offs are refused there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from perfop.app import AppContext
from perfop.mcp import outputs
from perfop.mcp.guards import CancelToken, confine_path

if TYPE_CHECKING:
    from perfop.engagement.records import Actor
    from perfop.store import Store

ENGAGEMENT_SCHEMA = "perfop.engagement/1"  # the documents of perfop.cli.engagement
# Client names SDKs send when the application set none: they name the library, not the agent.
SDK_DEFAULT_NAMES = frozenset({"mcp", "mcp-client", "python-mcp", ""})


class Args(BaseModel):
    # strict: what the advertised JSON schema refuses (``{"limit": true}``, ``"3"`` for an
    # integer) is refused here too, instead of being coerced.
    model_config = ConfigDict(extra="forbid", strict=True)


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


class App(AppContext):
    """Server state shared by every call: repository, config and store (opened once, lazily,
    ``perfop.app.AppContext``) and the agent that acts."""

    def __init__(
        self,
        repo: Path | None,
        *,
        store_url: str | None = None,
        config: Path | None = None,
        store: Store | None = None,
        actor: Actor | None = None,
    ) -> None:
        """``store`` and ``actor`` given (the agent runner's): that store, which its owner
        closes, and that actor; otherwise the configured store and the client's name."""
        # The configuration is loaded once (the server loads it at start): the workloads an
        # agent may run are those configured by the human, not ones an agent adds to the file
        # while it works.
        super().__init__(repo, config_path=config, store_override=store_url, store=store)
        self.actor_name = "mcp-client"
        self._actor = actor

    @property
    def actor(self) -> Actor:
        """The agent as the decision log names it: ``PERFOP_AGENT_NAME`` (what ``perfop
        init-agent`` writes into the client's server entry), else the client's own name, unless
        that is an SDK's default (``mcp``), which says nothing about who acts."""
        import os

        from perfop.engagement.records import Actor

        if self._actor is not None:
            return self._actor
        name = os.environ.get("PERFOP_AGENT_NAME", "").strip()
        if not name:
            name = self.actor_name if self.actor_name not in SDK_DEFAULT_NAMES else "mcp-client"
        return Actor(name=f"mcp:{name}", kind="agent")


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
    returns: type[BaseModel]  # the document's model: output schema and structured content
    long: bool = False  # runs processes: worker thread, progress, cancellable, time-limited
    read_only: bool = False
    raw: tuple[str, ...] = ()  # arguments passed through unvalidated to a service that checks them


TOOLS: dict[str, Tool] = {}

# Answer fields whose text is advice an agent acts on: their CLI hints become tool calls.
HINT_KEYS = frozenset({"next", "advice", "reason", "hint"})


def _mcp_hints(value: Any, key: str | None = None) -> Any:
    from perfop.mcp.hints import to_mcp

    if isinstance(value, str):
        return to_mcp(value) if key in HINT_KEYS else value
    if isinstance(value, dict):
        return {k: _mcp_hints(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mcp_hints(v, key) for v in value]
    return value


def tool(
    name: str,
    args: type[Args],
    description: str,
    *,
    returns: type[BaseModel],
    long: bool = False,
    read_only: bool = False,
    raw: tuple[str, ...] = (),
    hints: bool = True,
) -> Callable[[Callable[[Call, Any], Answer]], Callable[[Call, Any], Answer]]:
    """Register a tool. With ``hints`` (all but report, whose text is the human's document) the
    CLI hints in its text, its advice fields and its errors are rewritten as MCP tool calls."""

    def register(fn: Callable[[Call, Any], Answer]) -> Callable[[Call, Any], Answer]:
        def answered(call: Call, arguments: Any) -> Answer:
            from perfop.errors import PerfopError
            from perfop.mcp.hints import to_mcp

            try:
                answer = fn(call, arguments)
            except PerfopError as exc:
                exc.args = (to_mcp(str(exc)),)
                raise
            return Answer(_mcp_hints(answer.doc), to_mcp(answer.text), answer.is_error)

        TOOLS[name] = Tool(
            name,
            " ".join(description.split()),
            args,
            answered if hints else fn,
            returns,
            long,
            read_only,
            raw,
        )
        return fn

    return register


def engagement_doc(kind: str, **body: Any) -> dict[str, Any]:
    return {"schema": ENGAGEMENT_SCHEMA, "kind": kind, **body}


# --- status, intake, inventory -------------------------------------------------------------------


class NoArgs(Args):
    pass


@tool(
    "status",
    NoArgs,
    """Where the current engagement stands: its lifecycle stage (intake, baseline, hypotheses,
    design, implementation, validation, documentation, hand-off), what is done, and the one
    recommended next step as a tool call (next_step: tool and arguments). Call it first in every
    session; on a repository without an engagement it says so and how to start one (intake).""",
    read_only=True,
    returns=outputs.StatusDoc,
)
def status(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import checks

    report = checks.status(call.app.store, call.app.loaded)
    doc = engagement_doc("status", **report.to_dict("mcp"))
    where = "no engagement yet" if report.engagement is None else f"stage: {doc['stage']}"
    return Answer(doc, f"{where}; next: {doc['next']}")


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
    amend: dict[str, Any] | None = Field(
        None,
        description="Change fields of the current intake (same keys as spec, e.g. "
        '{"hardware": "8 cores"}); the change is logged and the open questions derived '
        "again.",
    )
    why: str | None = Field(None, description="Why the intake is amended (with amend).")
    by: str | None = Field(
        None, description="The person who confirmed or asked for the change (the log names them)."
    )


@tool(
    "intake",
    IntakeArgs,
    """Record a new performance engagement (spec or from_file), amend the current one (amend,
    logged), confirm it (confirm=true, by=the person who confirmed), or with no arguments return
    the current one. Answers with the recap and the open questions to put to the human before
    optimising anything; record their answers with question.""",
    raw=("spec",),
    returns=outputs.IntakeDoc,
)
def intake(call: Call, args: IntakeArgs) -> Answer:
    from perfop.engagement import service
    from perfop.engagement.intake import load_intake
    from perfop.errors import UsageError

    app = call.app
    if args.spec is not None and args.from_file is not None:
        raise UsageError("intake: give spec or from_file, not both")
    if args.amend is not None:
        if args.spec is not None or args.from_file is not None:
            raise UsageError("intake: amend changes the current intake; give it alone")
        eng = service.amend_intake(app.store, app.loaded, args.amend, actor=app.actor, why=args.why)
        if args.confirm:
            eng = service.confirm_intake(app.store, actor=app.actor, by=args.by)
    elif args.from_file is not None:
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
        eng = service.confirm_intake(app.store, actor=app.actor, by=args.by)
    else:
        eng = service.current(app.store)
    recap = service.recap(app.store, eng)
    return Answer(engagement_doc("intake", engagement=eng.to_dict(), recap=recap), recap)


@tool(
    "inventory",
    NoArgs,
    """Scan the repository for what it already has (tests, benchmarks, CI, stored results,
    profilers, feature flags) plus prior perfop runs, and record the inventory on the
    engagement.""",
    returns=outputs.InventoryDoc,
)
def inventory(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import service

    result = service.run_inventory(call.app.store, call.app.loaded, actor=call.app.actor)
    doc = engagement_doc("inventory", inventory=result.to_dict())
    inv = result.inventory
    counts = ", ".join(f"{k}={len(getattr(inv, k))}" for k in inv.CATEGORIES)
    return Answer(doc, f"inventory {result.id}: {counts}")


# --- notes, log, verify --------------------------------------------------------------------------


class NoteArgs(Args):
    text: str = Field(description="The note.")
    kind: Literal["stakeholder", "decision", "risk", "follow-up"] = Field(
        "decision", description="stakeholder, decision, risk or follow-up."
    )
    evidence: list[str] = Field(default_factory=list, description="References (run:ID ...).")
    by: str | None = Field(
        None, description="The person whose words these are (e.g. a stakeholder), if not yours."
    )


@tool(
    "note",
    NoteArgs,
    "Add a note (decision, risk, follow-up, stakeholder) to the decision log.",
    returns=outputs.NoteDoc,
)
def note(call: Call, args: NoteArgs) -> Answer:
    from perfop.engagement import service

    entry = service.add_note(
        call.app.store,
        f"{args.text.strip()} (per {args.by.strip()})"
        if args.by and args.by.strip()
        else args.text,
        kind=args.kind,
        actor=call.app.actor,
        evidence=tuple(args.evidence),
    )
    return Answer(
        engagement_doc("decision", decision=entry.to_dict()), f"noted ({entry.kind}) #{entry.id}"
    )


@tool(
    "log",
    NoArgs,
    "The engagement's decision log: every state change and note, who did it, why, evidence.",
    read_only=True,
    returns=outputs.LogDoc,
)
def log(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import service

    entries = service.decision_log(call.app.store)
    doc = engagement_doc("log", decisions=[d.to_dict() for d in entries])
    return Answer(doc, f"{len(entries)} decision-log entries")


@tool(
    "verify",
    NoArgs,
    """The hand-off checklist: every lifecycle stage checked against its records (intake
    confirmed, hypotheses, designs and approvals, implementation, fresh validation, report,
    sign-off). passed is false while any item fails; each item says how to fix it.""",
    read_only=True,
    returns=outputs.VerifyDoc,
)
def verify(call: Call, args: NoArgs) -> Answer:
    from perfop.engagement import checks

    results = checks.verify(call.app.store, call.app.loaded)
    ok = all(r.passed for r in results)
    doc = engagement_doc("verify", passed=ok, checks=[r.to_dict("mcp") for r in results])
    failing = [r.name for r in results if not r.passed]
    text = "verify: all checks passed" if ok else f"verify: failing: {', '.join(failing)}"
    return Answer(doc, text)


# --- open questions, stored records ----------------------------------------------------------


class QuestionArgs(Args):
    number: int | None = Field(
        None, ge=1, description="Open question number, as the recap and this tool list them."
    )
    answer: str | None = Field(
        None, description="The human's answer; closes the question (it leaves the open list)."
    )
    drop: bool = Field(False, description="Close it as not applicable; answer then says why.")
    by: str | None = Field(None, description="Who answered (default: you, the agent).")


class OpenQuestion(outputs.Record):
    number: int = Field(description="Its number: pass it as question's number.")
    question: str


class AnsweredQuestion(outputs.Record):
    question: str
    answer: str
    by: str = Field(description="Who answered.")
    at: str
    dropped: bool = Field(description="Closed as not applicable (answer says why).")


class QuestionsDoc(outputs.EngagementDocument):
    kind: Literal["questions"]
    open: list[OpenQuestion] = Field(description="The questions still open, numbered.")
    answered: list[AnsweredQuestion] = Field(description="The closed ones, with their answers.")


class RecordDoc(outputs.Document):
    """A stored record read back (``perfop.record/1``): the record under its kind's key."""

    schema_id: Literal["perfop.record/1"] = Field(alias="schema")
    kind: Literal["comparison", "validation", "profile", "run"]
    id: str


@tool(
    "question",
    QuestionArgs,
    """The intake's open questions: without arguments, list the open and the answered ones; with
    number and answer, record the human's answer (or with drop=true close it as not applicable)
    and log it. Answered questions no longer count as residual risks in the report.""",
    returns=QuestionsDoc,
)
def question(call: Call, args: QuestionArgs) -> Answer:
    from perfop.engagement import service
    from perfop.errors import UsageError

    app = call.app
    if args.number is None:
        if args.answer is not None or args.drop:
            raise UsageError("question: give number with answer")
        eng = service.current(app.store)
    else:
        if args.answer is None:
            raise UsageError(
                f"question {args.number}: give answer (the human's answer, or with drop=true why)"
            )
        eng = service.answer_question(
            app.store, args.number, args.answer, actor=app.actor, by=args.by, drop=args.drop
        )
    open_qs = list(eng.open_questions)
    doc = engagement_doc(
        "questions",
        open=[{"number": i, "question": q} for i, q in enumerate(open_qs, 1)],
        answered=[
            {
                "question": a.question,
                "answer": a.answer,
                "by": a.by,
                "at": a.at,
                "dropped": a.dropped,
            }
            for a in eng.answered_questions
        ],
    )
    listing = "; ".join(f"{i}. {q}" for i, q in enumerate(open_qs, 1)) or "none"
    return Answer(doc, f"{len(open_qs)} open question(s): {listing}")


class ShowArgs(Args):
    kind: Literal["comparison", "validation", "profile", "run"] = Field(
        description="What to read back: comparison, validation, profile or run."
    )
    id: str = Field(
        description="Its id, as an earlier answer gave it (comparison_id, validation.id, the "
        "profile id, a run id)."
    )


@tool(
    "show",
    ShowArgs,
    """Read back a stored record by id (a comparison, a validation, a profile with its hot spots
    and artifact paths, or a run) exactly as it was stored, to cite or re-read evidence without
    measuring again.""",
    read_only=True,
    returns=RecordDoc,
)
def show(call: Call, args: ShowArgs) -> Answer:
    from perfop.engagement.readback import stored_record

    doc = stored_record(call.app.store, args.kind, args.id)
    return Answer(doc, f"{args.kind} {args.id}: stored record (see structuredContent)")
