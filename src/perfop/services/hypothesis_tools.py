"""Hypothesis tools: hypothesis_add, hypothesis_list, hypothesis_update, design, request_approval.

Each calls the engagement's lifecycle service with the server's agent actor; the service enforces
the state machine, so confirmed comes only from validate and approved only from a human.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from perfop.services import documents as outputs
from perfop.services.envelope import engagement_doc, hypotheses_document
from perfop.services.guards import check_components, check_ref
from perfop.services.table import Answer, Args, Call, tool

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
    returns=outputs.HypothesisDoc,
)
def hypothesis_add(call: Call, args: HypothesisAddArgs) -> Answer:
    from perfop.engagement import lifecycle

    fields = _hypothesis_fields(call, args)
    fields.setdefault("risk", "low")
    hyp = lifecycle.add(
        call.app.store, call.app.loaded, actor=call.app.actor, statement=args.statement, **fields
    )
    return Answer(
        engagement_doc("hypothesis", hypothesis=hyp.to_dict()), f"{hyp.label} proposed", result=hyp
    )


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
    returns=outputs.HypothesisListDoc,
)
def hypothesis_list(call: Call, args: HypothesisListArgs) -> Answer:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import RANKING_FORMULA

    if args.label is not None:
        detail = lifecycle.show(call.app.store, call.app.loaded, args.label)
        doc = engagement_doc("hypothesis", hypothesis=detail.to_dict())
        h = detail.hypothesis
        approval = "approved" if detail.approvals else "not approved"
        needs = f", needs a human approval ({approval})" if detail.needs_approval else ""
        return Answer(doc, f"{h.label} [{h.status.value}] {h.statement}{needs}", result=detail)
    ranked = lifecycle.ranked(call.app.store)
    last = lifecycle.latest_validations(call.app.store)
    doc = hypotheses_document(RANKING_FORMULA, ranked, last)
    lines = [
        f"{r.rank}. {r.hypothesis.label} [{r.hypothesis.status.value}]"
        + _brief(last.get(r.hypothesis.id))
        for r in ranked
    ]
    return Answer(doc, "; ".join(lines) or "no hypotheses yet", result=ranked)


def _brief(v: dict[str, Any] | None) -> str:
    """`` x0.512 [0.40, 0.65]`` per targeted workload, with the MDE when inconclusive."""
    if not v:
        return ""
    parts = []
    for w in v["workloads"]:
        if w.get("ratio") is None:
            parts.append(f"{w['workload']} {w.get('verdict')}")
            continue
        text = f"{w['workload']} x{w['ratio']:.3f}"
        if w.get("ci_low") is not None and w.get("ci_high") is not None:
            text += f" [{w['ci_low']:.3f}, {w['ci_high']:.3f}]"
        if w.get("verdict") == "inconclusive" and w.get("mde") is not None:
            text += f", minimum detectable effect {w['mde']:.1%}"
        parts.append(text)
    on = f" on top of {v['stacked_on']}" if v.get("stacked_on") else ""
    return f" ({'; '.join(parts)}{on})" if parts else ""


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
    returns=outputs.HypothesisDoc,
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
    doc = engagement_doc("hypothesis", hypothesis=hyp.to_dict())
    return Answer(doc, f"{hyp.label} [{hyp.status.value}] {hyp.statement}", result=hyp)


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
    returns=outputs.DesignDoc,
)
def design(call: Call, args: DesignArgs) -> Answer:
    from perfop.engagement import lifecycle

    data = args.model_dump(exclude={"label"})
    hyp, rec = lifecycle.design(
        call.app.store, call.app.loaded, args.label, actor=call.app.actor, **data
    )
    doc = engagement_doc("design", hypothesis=hyp.to_dict(), design=rec.to_dict())
    return Answer(doc, f"{hyp.label} [{hyp.status.value}] design {rec.id} recorded", result=rec)


class RequestApprovalArgs(Args):
    label: str = Field(description="Hypothesis id, e.g. H1.")
    reason: str = Field(description="Why the change is worth the risk, for the human approver.")


@tool(
    "request_approval",
    RequestApprovalArgs,
    """Ask a human to approve a risky hypothesis: records a pending request in the decision log
    with the command the human runs (perfop approve H --by NAME). It never grants an approval;
    the hypothesis stays unapproved until a human acts.""",
    returns=outputs.ApprovalRequestDoc,
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
    doc = engagement_doc(
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
    return Answer(doc, f"approval of {hyp.label} requested ({state})", result=entry)


class DesignDoneArgs(Args):
    label: str = Field(description="Hypothesis id, e.g. H1.")
    item: str = Field(description="The design's test to add: its number (1, 2 ...) or its text.")
    evidence: str = Field(
        description="What shows it is done: test:FILE::NAME (the test id) or commit:REF."
    )


@tool(
    "design_done",
    DesignDoneArgs,
    """Mark one of a design's tests to add as done, with its evidence (the test id, or the
    commit that added it). The report then lists it as added, not as still to add.""",
    returns=outputs.DesignDoc,
)
def design_done(call: Call, args: DesignDoneArgs) -> Answer:
    from perfop.engagement import lifecycle

    app = call.app
    rec = lifecycle.mark_done(
        app.store, app.loaded, args.label, args.item, evidence=args.evidence, actor=app.actor
    )
    hyp = lifecycle.get(app.store, args.label)
    doc = engagement_doc("design", hypothesis=hyp.to_dict(), design=rec.to_dict())
    left = [t for t in rec.tests_to_add if t not in rec.done]
    return Answer(
        doc, f"{hyp.label}: {len(rec.done)} test(s) done, {len(left)} still to add", result=rec
    )
