"""Engagement verbs: intake, inventory, hypothesis add|list|show|update, design, approve, note, log,
status, verify, accept, validate. Thin: parse, call a service
in ``perfop.engagement``, render. The CLI acts as a human; approvals need a terminal or ``--by``.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from perfop.cli.common import (
    FORMAT_OPTION,
    FailOnInconclusiveOption,
    MaxPairsOption,
    MaxRunsOption,
    MaxTimeOption,
    OutputFormat,
    SeedOption,
    emit,
    emit_json,
    get_state,
    pair_cap,
    warn_contention,
)
from perfop.services.envelope import (
    engagement_doc,
    hypotheses_document,
    questions_document,
    status_document,
    verify_document,
)

Multi = list[str] | None


def _actor(name: str | None = None) -> Any:
    from perfop.engagement.records import Actor

    if name:
        return Actor(name=name, kind="human")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = os.environ.get("USER", "unknown")
    return Actor(name=user, kind="human")


def _on_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def register(app: typer.Typer) -> None:
    app.command(
        "intake",
        help="Record an engagement: from a YAML/TOML file, flags or prompts; "
        "ends with a recap and open questions.",
    )(intake)
    app.command(
        "inventory",
        help="Scan the repo for tests, benchmarks, CI, results, profilers, "
        "feature flags and prior perfop runs.",
    )(inventory)
    hyp = typer.Typer(help="Log, rank, show and update hypotheses.", no_args_is_help=True)
    hyp.command("add", help="Log a hypothesis (status proposed).")(hypothesis_add)
    hyp.command("list", help="Hypotheses ranked by expected impact over effort.")(hypothesis_list)
    hyp.command("show", help="One hypothesis with its design, approvals, validations.")(
        hypothesis_show
    )
    hyp.command(
        "update",
        help="Edit fields, record a candidate ref, or set a status "
        "(reverted, rejected, refuted, inconclusive).",
    )(hypothesis_update)
    hyp.command(
        "done",
        help="Mark one of the design's tests to add as done, with its evidence (a test id or "
        "a commit).",
    )(hypothesis_done)
    app.add_typer(hyp, name="hypothesis")
    app.command("design", help="Record the fix plan and safeguards of a hypothesis.")(design)
    app.command("approve", help="A human approves a high-risk hypothesis (terminal or --by).")(
        approve
    )
    app.command(
        "validate",
        help="A/B the candidate against the base, run the tests, check the "
        "SLOs and set the hypothesis' status from the evidence.",
    )(validate)
    app.command("note", help="Add a decision-log note.")(note)
    question = typer.Typer(
        help="The intake's open questions: list, answer or drop them.", no_args_is_help=True
    )
    question.command("list", help="Open and answered questions.")(question_list)
    question.command("answer", help="Record the answer to open question N.")(question_answer)
    question.command("drop", help="Close open question N as not applicable, saying why.")(
        question_drop
    )
    app.add_typer(question, name="question")
    app.command("log", help="Show the decision log.")(log)
    app.command("status", help="Current stage, what is done, the next step.")(status)
    app.command("verify", help="The hand-off checklist; exit 1 if any item fails.")(verify)
    app.command("accept", help="A stakeholder signs off the trade-offs (human only).")(accept)


def _split_csv(values: Multi) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def intake(
    ctx: typer.Context,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="YAML or TOML intake file.")
    ] = None,
    confirm: Annotated[bool, typer.Option("--confirm", help="Mark intake confirmed.")] = False,
    title: Annotated[str | None, typer.Option("--title", help="Title (flags mode).")] = None,
    requester: Annotated[str | None, typer.Option("--requester")] = None,
    goal: Annotated[Multi, typer.Option("--goal", help="A goal; repeat for more.")] = None,
    workload: Annotated[Multi, typer.Option("--workload", "-w", help="Affected workload.")] = None,
    constraint: Annotated[Multi, typer.Option("--constraint")] = None,
    stakeholder: Annotated[Multi, typer.Option("--stakeholder", help="NAME:ROLE")] = None,
    assumption: Annotated[Multi, typer.Option("--assumption")] = None,
    risk_tolerance: Annotated[
        str | None, typer.Option("--risk-tolerance", help="low, medium or high")
    ] = None,
    base: Annotated[str | None, typer.Option("--base", help="Base ref of the engagement.")] = None,
    hardware: Annotated[str | None, typer.Option("--hardware")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset")] = None,
    traffic: Annotated[str | None, typer.Option("--traffic")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List engagements.")] = False,
    use: Annotated[int | None, typer.Option("--use", help="Make engagement ID current.")] = None,
    amend: Annotated[
        bool,
        typer.Option(
            "--amend",
            help="Change the current intake: the fields given (flags or --from FILE) replace "
            "its values; the change is logged.",
        ),
    ] = False,
    why: Annotated[str | None, typer.Option("--why", help="Why (with --amend).")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who confirms or amends (default: the OS user).")
    ] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import service

    state = get_state(ctx)
    actor = _actor(by)
    flags = _IntakeFlags(
        title=title,
        requester=requester,
        goal=goal,
        workload=workload,
        constraint=constraint,
        stakeholder=stakeholder,
        assumption=assumption,
        risk_tolerance=risk_tolerance,
        base=base,
        hardware=hardware,
        dataset=dataset,
        traffic=traffic,
    )
    if amend:
        eng = _amend_intake(state, flags, from_file, actor=actor, why=why, confirm=confirm)
    elif list_:
        _list_engagements(state, fmt)
        return
    else:
        eng = _open_intake(state, flags, from_file, use=use, confirm=confirm, actor=actor, fmt=fmt)
    recap = service.recap(state.store, eng)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("intake", engagement=eng.to_dict(), recap=recap))
    else:
        typer.echo(recap, nl=False)


@dataclass(frozen=True)
class _IntakeFlags:
    """The engagement's fields as ``perfop intake`` flags give them (each may be absent)."""

    title: str | None
    requester: str | None
    goal: Multi
    workload: Multi
    constraint: Multi
    stakeholder: Multi
    assumption: Multi
    risk_tolerance: str | None
    base: str | None
    hardware: str | None
    dataset: str | None
    traffic: str | None

    def changes(self) -> dict[str, Any]:
        """The fields given, as ``--amend`` changes."""
        flags = {
            "title": self.title,
            "requester": self.requester,
            "goals": self.goal,
            "workloads": _split_csv(self.workload) or None,
            "constraints": self.constraint,
            "assumptions": self.assumption,
            "risk_tolerance": self.risk_tolerance,
            "base": self.base,
            "hardware": self.hardware,
            "dataset": self.dataset,
            "traffic": self.traffic,
        }
        changes: dict[str, Any] = {k: v for k, v in flags.items() if v}
        if self.stakeholder:
            changes["stakeholders"] = [
                {"name": n.strip(), "role": r.strip()}
                for n, _, r in (x.partition(":") for x in self.stakeholder)
            ]
        return changes

    def spec(self, config: Any) -> Any:
        """A new engagement's spec from the flags (``title`` is given)."""
        from perfop.engagement.intake import spec_from_flags

        assert self.title is not None
        return spec_from_flags(
            title=self.title,
            config=config,
            requester=self.requester,
            goals=self.goal or [],
            workloads=_split_csv(self.workload),
            constraints=self.constraint or [],
            stakeholders=self.stakeholder or [],
            assumptions=self.assumption or [],
            risk_tolerance=self.risk_tolerance,
            base=self.base,
            hardware=self.hardware,
            dataset=self.dataset,
            traffic=self.traffic,
        )


def _amend_intake(
    state: Any,
    flags: _IntakeFlags,
    from_file: Path | None,
    *,
    actor: Any,
    why: str | None,
    confirm: bool,
) -> Any:
    from perfop.engagement import service
    from perfop.engagement.intake import read_intake_file

    changes: dict[str, Any] = dict(read_intake_file(from_file)) if from_file else {}
    changes.update(flags.changes())
    eng = service.amend_intake(state.store, state.loaded, changes, actor=actor, why=why)
    if confirm:
        eng = service.confirm_intake(state.store, actor=actor)
    return eng


def _list_engagements(state: Any, fmt: OutputFormat) -> None:
    from perfop.engagement import service
    from perfop.engagement.render import engagements_table

    items = service.list_engagements(state.store)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("engagements", engagements=[e.to_dict() for e in items]))
    else:
        emit(state, engagements_table(items))


def _open_intake(
    state: Any,
    flags: _IntakeFlags,
    from_file: Path | None,
    *,
    use: int | None,
    confirm: bool,
    actor: Any,
    fmt: OutputFormat,
) -> Any:
    """The engagement ``perfop intake`` shows: made current, started (from a file, flags or
    prompts on a terminal), confirmed, or else the current one."""
    from perfop.engagement import service
    from perfop.engagement.intake import load_intake, prompt_spec
    from perfop.errors import UsageError

    if use is not None:
        return service.use_engagement(state.store, use, actor=actor)
    if from_file is not None:
        if flags.title is not None:
            raise UsageError("give --from FILE or --title with flags, not both")
        spec = load_intake(from_file, state.loaded.config)
        return service.start_engagement(
            state.store, state.loaded, spec, actor=actor, confirm=confirm
        )
    if flags.title is not None:
        spec = flags.spec(state.loaded.config)
        return service.start_engagement(
            state.store, state.loaded, spec, actor=actor, confirm=confirm
        )
    if confirm:
        return service.confirm_intake(state.store, actor=actor)
    if _on_terminal() and fmt is OutputFormat.text:

        def ask(question: str, default: str) -> str:
            return str(typer.prompt(question, default=default, show_default=bool(default)))

        spec = prompt_spec(ask, state.loaded.config)
        return service.start_engagement(state.store, state.loaded, spec, actor=actor)
    return service.current(state.store)


def inventory(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import service
    from perfop.engagement.render import inventory_table

    state = get_state(ctx)
    result = service.run_inventory(state.store, state.loaded, actor=_actor())
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("inventory", inventory=result.to_dict()))
    else:
        emit(state, inventory_table(result.inventory))


def hypothesis_add(
    ctx: typer.Context,
    statement: Annotated[str, typer.Argument(help="What you expect to change and why.")],
    root_cause: Annotated[str | None, typer.Option("--root-cause", help="Suspected cause.")] = None,
    component: Annotated[Multi, typer.Option("--component", "-c", help="Path or module.")] = None,
    workload: Annotated[Multi, typer.Option("--workload", "-w")] = None,
    metric: Annotated[str, typer.Option("--metric", help="Metric the change moves.")] = "wall_time",
    expect: Annotated[
        str, typer.Option("--expect", help="Ratio candidate/base: 0.8, -20%, 2x.")
    ] = "0.9",
    effort: Annotated[str, typer.Option("--effort", help="Person-days: 0.5, 4h, 2d, 1w.")] = "1",
    confidence: Annotated[
        str, typer.Option("--confidence", help="0..1 or low/medium/high.")
    ] = "0.5",
    risk: Annotated[str, typer.Option("--risk", help="low, medium or high.")] = "low",
    verification: Annotated[Multi, typer.Option("--verify", help="A verification step.")] = None,
    evidence: Annotated[
        Multi, typer.Option("--evidence", help="hotspot:ID, run:ID, comparison:ID.")
    ] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import parse_confidence, parse_effort, parse_ratio

    state = get_state(ctx)
    fields: dict[str, Any] = dict(
        statement=statement,
        root_cause=root_cause,
        components=_split_csv(component),
        metric=metric,
        expected_ratio=parse_ratio(expect),
        effort=parse_effort(effort),
        confidence=parse_confidence(confidence),
        risk=risk.lower(),
        verification=verification or [],
        evidence=_split_csv(evidence),
    )
    if workload:
        fields["workloads"] = _split_csv(workload)
    hyp = lifecycle.add(state.store, state.loaded, actor=_actor(), **fields)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("hypothesis", hypothesis=hyp.to_dict()))
    else:
        typer.echo(f"{hyp.label} proposed: {hyp.statement}")


def hypothesis_list(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import RANKING_FORMULA
    from perfop.engagement.render import hypotheses_table

    state = get_state(ctx)
    ranked = lifecycle.ranked(state.store)
    if fmt is OutputFormat.json:
        last = lifecycle.latest_validations(state.store)
        emit_json(hypotheses_document(RANKING_FORMULA, ranked, last))
    else:
        emit(state, hypotheses_table(ranked))


def hypothesis_show(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle
    from perfop.engagement.render import hypothesis_text

    state = get_state(ctx)
    detail = lifecycle.show(state.store, state.loaded, label)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("hypothesis", hypothesis=detail.to_dict()))
    else:
        typer.echo(hypothesis_text(detail))


def hypothesis_update(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    status_: Annotated[
        str | None,
        typer.Option("--status", help="reverted, rejected, refuted, inconclusive, implemented."),
    ] = None,
    candidate: Annotated[str | None, typer.Option("--candidate", help="Candidate git ref.")] = None,
    note_: Annotated[str | None, typer.Option("--note", help="Why (goes to the log).")] = None,
    statement: Annotated[str | None, typer.Option("--statement")] = None,
    root_cause: Annotated[str | None, typer.Option("--root-cause")] = None,
    component: Annotated[Multi, typer.Option("--component", "-c")] = None,
    workload: Annotated[Multi, typer.Option("--workload", "-w")] = None,
    metric: Annotated[str | None, typer.Option("--metric")] = None,
    expect: Annotated[str | None, typer.Option("--expect")] = None,
    effort: Annotated[str | None, typer.Option("--effort")] = None,
    confidence: Annotated[str | None, typer.Option("--confidence")] = None,
    risk: Annotated[str | None, typer.Option("--risk")] = None,
    verification: Annotated[Multi, typer.Option("--verify")] = None,
    evidence: Annotated[Multi, typer.Option("--evidence")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle
    from perfop.engagement.hypotheses import (
        parse_confidence,
        parse_effort,
        parse_ratio,
        parse_status,
    )

    state = get_state(ctx)
    fields: dict[str, Any] = dict(
        statement=statement,
        root_cause=root_cause,
        metric=metric,
        risk=risk.lower() if risk else None,
        expected_ratio=parse_ratio(expect) if expect else None,
        effort=parse_effort(effort) if effort else None,
        confidence=parse_confidence(confidence) if confidence else None,
        components=_split_csv(component) if component else None,
        workloads=_split_csv(workload) if workload else None,
        verification=verification or None,
        evidence=_split_csv(evidence) if evidence else None,
    )
    hyp = lifecycle.update(
        state.store,
        state.loaded,
        label,
        actor=_actor(),
        status=parse_status(status_) if status_ else None,
        candidate=candidate,
        note=note_,
        **fields,
    )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("hypothesis", hypothesis=hyp.to_dict()))
    else:
        typer.echo(f"{hyp.label} [{hyp.status.value}] {hyp.statement}")


def hypothesis_done(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    item: Annotated[str, typer.Argument(help="The test to add: its number or its text.")],
    evidence: Annotated[
        str,
        typer.Option("--evidence", help="test:FILE::NAME (the test id) or commit:REF."),
    ],
    by: Annotated[str | None, typer.Option("--by", help="Who (default: the OS user).")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle

    state = get_state(ctx)
    rec = lifecycle.mark_done(
        state.store, state.loaded, label, item, evidence=evidence, actor=_actor(by)
    )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("design", design=rec.to_dict()))
    else:
        left = [t for t in rec.tests_to_add if t not in rec.done]
        typer.echo(f"{label.upper()}: {len(rec.done)} test(s) done, {len(left)} to add")


def design(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    fix: Annotated[str, typer.Option("--fix", help="The proposed change.")],
    fallback: Annotated[str | None, typer.Option("--fallback", help="Plan B.")] = None,
    data_collection: Annotated[str | None, typer.Option("--data", help="What to measure.")] = None,
    feature_flag: Annotated[str | None, typer.Option("--flag", help="Feature flag name.")] = None,
    kill_switch: Annotated[str | None, typer.Option("--kill-switch")] = None,
    tests_to_add: Annotated[Multi, typer.Option("--test", help="A test to add.")] = None,
    rollback: Annotated[str | None, typer.Option("--rollback", help="Rollback command.")] = None,
    coverage: Annotated[str | None, typer.Option("--coverage", help="Required coverage.")] = None,
    risk: Annotated[str | None, typer.Option("--risk", help="Re-rate: low/medium/high.")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle

    state = get_state(ctx)
    hyp, rec = lifecycle.design(
        state.store,
        state.loaded,
        label,
        actor=_actor(),
        fix=fix,
        fallback=fallback,
        data_collection=data_collection,
        feature_flag=feature_flag,
        kill_switch=kill_switch,
        tests_to_add=tests_to_add or [],
        rollback=rollback,
        coverage=coverage,
        risk=risk.lower() if risk else None,
    )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("design", hypothesis=hyp.to_dict(), design=rec.to_dict()))
    else:
        typer.echo(f"{hyp.label} [{hyp.status.value}] design {rec.id} recorded")


def approve(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    by: Annotated[str | None, typer.Option("--by", help="Approver's name.")] = None,
    note_: Annotated[str | None, typer.Option("--note")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import lifecycle

    state = get_state(ctx)
    name = _human_name(by, "approve", f"perfop approve {label} --by NAME")
    rec = lifecycle.approve(
        state.store, state.loaded, label, by=name, actor=_actor(name), note=note_
    )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("approval", approval=rec.to_dict()))
    else:
        typer.echo(f"{label.upper()} approved by {rec.by}")


def _human_name(by: str | None, action: str, command: str) -> str:
    from perfop.errors import UsageError

    if by:
        return by
    if _on_terminal():
        return str(typer.prompt(f"Your name ({action})"))
    raise UsageError(f"--by NAME is required to {action} when not on a terminal: {command}")


def note(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The note.")],
    kind: Annotated[
        str, typer.Option("--kind", help="stakeholder, decision, risk, follow-up.")
    ] = "decision",
    evidence: Annotated[Multi, typer.Option("--evidence")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who says so (default: OS user).")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import service

    state = get_state(ctx)
    entry = service.add_note(
        state.store, text, kind=kind, actor=_actor(by), evidence=tuple(_split_csv(evidence))
    )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("decision", decision=entry.to_dict()))
    else:
        typer.echo(f"noted ({entry.kind}) #{entry.id}")


def _questions_text(eng: Any) -> str:
    lines = [f"{i}. {q}" for i, q in enumerate(eng.open_questions, 1)] or ["no open questions"]
    for a in eng.answered_questions:
        verb = "dropped" if a.dropped else "answered"
        lines.append(f"- {a.question} ({verb} by {a.by}: {a.answer})")
    return "\n".join(lines)


def question_list(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import service

    eng = service.current(get_state(ctx).store)
    if fmt is OutputFormat.json:
        emit_json(questions_document(eng))
    else:
        typer.echo(_questions_text(eng))


def _close_question(
    ctx: typer.Context, number: int, text: str, by: str | None, fmt: OutputFormat, drop: bool
) -> None:
    from perfop.engagement import service

    state = get_state(ctx)
    eng = service.answer_question(state.store, number, text, actor=_actor(by), by=by, drop=drop)
    if fmt is OutputFormat.json:
        emit_json(questions_document(eng))
    else:
        typer.echo(
            f"question {number} {'dropped' if drop else 'answered'}; "
            f"{len(eng.open_questions)} open question(s) left"
        )


def question_answer(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="Question number (perfop question list).")],
    answer: Annotated[str, typer.Argument(help="The answer.")],
    by: Annotated[str | None, typer.Option("--by", help="Who answered (default: OS user).")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    _close_question(ctx, number, answer, by, fmt, drop=False)


def question_drop(
    ctx: typer.Context,
    number: Annotated[int, typer.Argument(help="Question number (perfop question list).")],
    why: Annotated[str, typer.Option("--why", help="Why it does not apply.")],
    by: Annotated[str | None, typer.Option("--by", help="Who decided (default: OS user).")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    _close_question(ctx, number, why, by, fmt, drop=True)


def log(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import service
    from perfop.engagement.render import log_table

    state = get_state(ctx)
    entries = service.decision_log(state.store)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("log", decisions=[d.to_dict() for d in entries]))
    else:
        emit(state, log_table(entries))


def status(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import checks
    from perfop.engagement.render import status_text

    state = get_state(ctx)
    report = checks.status(state.store, state.loaded)
    if fmt is OutputFormat.json:
        emit_json(status_document(report))
    else:
        typer.echo(status_text(report))


def verify(ctx: typer.Context, fmt: OutputFormat = FORMAT_OPTION) -> None:
    from perfop.engagement import checks
    from perfop.engagement.render import verify_text

    state = get_state(ctx)
    results = checks.verify(state.store, state.loaded)
    ok = all(r.passed for r in results)
    if fmt is OutputFormat.json:
        emit_json(verify_document(results))
    else:
        typer.echo(verify_text(results))
    if not ok:
        raise typer.Exit(1)


def accept(
    ctx: typer.Context,
    by: Annotated[str | None, typer.Option("--by", help="Stakeholder's name.")] = None,
    note_: Annotated[str | None, typer.Option("--note")] = None,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.engagement import service

    state = get_state(ctx)
    name = _human_name(by, "sign off", "perfop accept --by NAME")
    rec = service.accept(state.store, by=name, actor=_actor(name), note=note_)
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("acceptance", approval=rec.to_dict()))
    else:
        typer.echo(f"trade-offs accepted by {rec.by}")


def _machine_lines(evidence: Mapping[str, Any]) -> list[str]:
    """CPU time beside wall time per workload, then the machine's contention line."""
    from perfop.compare.cpuwall import format_cpu_wall
    from perfop.measure.contention import format_line

    lines = []
    for name, doc in (evidence.get("cpu_vs_wall") or {}).items():
        text = format_cpu_wall(doc)
        if text:
            lines.append(f"cpu time ({name}): {text}")
    if "contention" in evidence:
        lines.append(format_line(evidence.get("contention"), paired=True))
    return lines


def validate(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Hypothesis id, e.g. H1.")],
    candidate: Annotated[
        str | None, typer.Option("--candidate", help="Record this git ref as the candidate first.")
    ] = None,
    max_time: MaxTimeOption = None,
    max_pairs: MaxPairsOption = None,
    max_runs: MaxRunsOption = None,
    seed: SeedOption = None,
    fail_on_inconclusive: FailOnInconclusiveOption = False,
    fmt: OutputFormat = FORMAT_OPTION,
) -> None:
    from perfop.cli.compare import CompareBar
    from perfop.engagement.records import Status
    from perfop.engagement.validate import validate as run_validation

    state = get_state(ctx)
    cap = pair_cap(state, max_pairs, max_runs)
    with CompareBar(False, state.err_console) as notices:  # budget/harness lines, up front
        report = run_validation(
            state.store,
            state.loaded,
            label,
            actor=_actor(),
            candidate=candidate,
            max_time=max_time,
            max_pairs=cap,
            seed=seed,
            progress=notices,
        )
    if fmt is OutputFormat.json:
        emit_json(engagement_doc("validation", **report.to_dict()))
    else:
        h = report.hypothesis
        out = report.outcome
        typer.echo(
            f"{h.label} -> {out.headline}"
            + (" (contradicts the hypothesis)" if out.contradicts else "")
        )
        for reason in out.reasons:
            typer.echo(f"  - {reason}")
        for finding in out.regressions:
            typer.echo(f"  regression: {finding}")
        for risk in out.residual_risks:
            typer.echo(f"  residual risk: {risk}")
        typer.echo(f"  next: {out.advice}")
        typer.echo(
            f"  evidence: comparison {report.comparison_id}, validation {report.validation.id}"
        )
        for line in _machine_lines(report.validation.evidence):
            typer.echo(f"  {line}")
    warn_contention(
        state, report.validation.evidence.get("contention"), what=f"validation of {label}"
    )
    status_ = report.outcome.status
    if status_ in (Status.REFUTED, Status.REJECTED) or report.outcome.regressions:
        raise typer.Exit(1)
    if status_ is Status.INCONCLUSIVE and fail_on_inconclusive:
        raise typer.Exit(3)
