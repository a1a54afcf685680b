"""The engagement tools: status, intake, inventory, note, log, verify, question and show.

Each calls the engagement's service with the caller's ``Actor`` and answers with the document of
the CLI verb's ``--format json`` (``perfop.services.envelope``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from perfop.services import documents as outputs
from perfop.services.envelope import (
    engagement_doc,
    engagement_document,
    questions_document,
    status_document,
    verify_document,
)
from perfop.services.table import ActingContext, Answer, Args, Call, tool

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
    doc = status_document(report, front="mcp")
    where = "no engagement yet" if report.engagement is None else f"stage: {doc['stage']}"
    return Answer(doc, f"{where}; next: {doc['next']}", result=report)


def current_engagement(app: ActingContext) -> dict[str, Any]:
    """The current engagement's document (intake, recap, stage, ranked hypotheses), read through
    the services the status, intake and hypothesis_list tools call; not a tool of its own (the
    MCP server serves it as a resource)."""
    from perfop.engagement import checks, lifecycle, service
    from perfop.engagement.hypotheses import RANKING_FORMULA

    eng = service.current(app.store)
    return engagement_document(
        eng,
        recap=service.recap(app.store, eng),
        status=checks.status(app.store, app.loaded),
        formula=RANKING_FORMULA,
        ranked=lifecycle.ranked(app.store),
    )


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
    return Answer(
        engagement_doc("intake", engagement=eng.to_dict(), recap=recap), recap, result=eng
    )


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
    return Answer(doc, f"inventory {result.id}: {counts}", result=result)


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
    doc = engagement_doc("decision", decision=entry.to_dict())
    return Answer(doc, f"noted ({entry.kind}) #{entry.id}", result=entry)


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
    return Answer(doc, f"{len(entries)} decision-log entries", result=entries)


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
    doc = verify_document(results, front="mcp")
    failing = [r.name for r in results if not r.passed]
    text = (
        "verify: all checks passed" if doc["passed"] else f"verify: failing: {', '.join(failing)}"
    )
    return Answer(doc, text, result=results)


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
    doc = questions_document(eng)
    listing = "; ".join(f"{i}. {q}" for i, q in enumerate(open_qs, 1)) or "none"
    return Answer(doc, f"{len(open_qs)} open question(s): {listing}", result=eng)


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
