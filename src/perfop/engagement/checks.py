"""Status (stage, what is done, next step) and the ``perfop verify`` checklist.

The checklist is one explicit table, ``VERIFY_CHECKS`` (name, check), where a check takes a
``VerifyContext`` (every engagement record, plus the store and config for checks that need more,
e.g. "report generated after the last validation", which reads the store's reports table) and
returns ``(passed, reason)``; ``register_check`` adds or replaces an item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perfop.config import LoadedConfig
from perfop.engagement.hints import Front, NextStep, with_hint
from perfop.engagement.hypotheses import needs_approval
from perfop.engagement.records import (
    OUTCOMES,
    Approval,
    Design,
    Engagement,
    Hypothesis,
    Stage,
    Status,
    Validation,
)
from perfop.engagement.service import current
from perfop.store import Store
from perfop.store import engagement as es
from perfop.store.reports import list_reports


@dataclass(frozen=True)
class VerifyContext:
    """Everything a check may look at, read once."""

    store: Store
    loaded: LoadedConfig
    engagement: Engagement
    hypotheses: list[Hypothesis]
    designs: dict[int, Design]
    approvals: list[Approval]
    validations: dict[int, list[Validation]]

    def approved(self, hyp: Hypothesis) -> bool:
        return any(a.kind == "approval" and a.hypothesis_id == hyp.id for a in self.approvals)

    def high_risk(self, hyp: Hypothesis) -> bool:
        return needs_approval(hyp, self.loaded.config.high_risk_paths)

    @property
    def last_validation(self) -> Validation | None:
        every = [v for vs in self.validations.values() for v in vs]
        return max(every, key=lambda v: v.created_at) if every else None


def load_context(
    store: Store, loaded: LoadedConfig, engagement_id: int | None = None
) -> VerifyContext:
    eng = current(store, engagement_id)
    with store.read() as conn:
        hyps = es.list_hypotheses(conn, eng.id)
        designs = {h.id: d for h in hyps if (d := es.latest_design(conn, h.id)) is not None}
        approvals = es.list_approvals(conn, eng.id)
        validations = {h.id: es.list_validations(conn, h.id) for h in hyps}
    return VerifyContext(store, loaded, eng, hyps, designs, approvals, validations)


# A check returns (passed, reason) or (passed, reason, step): the step is how to fix it, rendered
# for the caller's front end (a CLI command or an MCP tool call) after the reason.
Check = Callable[[VerifyContext], tuple[bool, str] | tuple[bool, str, NextStep | None]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str  # without the fix; ``text(front)`` adds it
    step: NextStep | None = None

    def text(self, front: Front = "cli") -> str:
        return with_hint(self.reason, None if self.passed else self.step, front)

    def to_dict(self, front: Front = "cli") -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "passed": self.passed, "reason": self.text(front)}
        if front == "mcp" and self.step is not None and not self.passed:
            doc["next"] = self.step.to_dict(front)
        return doc


def intake_step(confirm: bool = True) -> NextStep:
    return NextStep("", "perfop intake --confirm", "intake", {"confirm": True})


def hypothesis_add_step() -> NextStep:
    return NextStep(
        "",
        "perfop hypothesis add",
        "hypothesis_add",
        {"statement": "<what you expect to change and why>", "evidence": ["hotspot:<id>"]},
    )


def design_step(label: str) -> NextStep:
    return NextStep(
        "", f"perfop design {label}", "design", {"label": label, "fix": "<the proposed change>"}
    )


def approval_step(label: str) -> NextStep:
    return NextStep(
        "",
        "",
        "request_approval",
        {"label": label, "reason": "<why the change is worth the risk>"},
        human=f"perfop approve {label} --by NAME",
    )


def candidate_step(label: str) -> NextStep:
    return NextStep(
        "",
        f"perfop hypothesis update {label} --candidate REF",
        "hypothesis_update",
        {"label": label, "candidate": "<git ref of the commit>"},
    )


def validate_step(label: str) -> NextStep:
    return NextStep("", f"perfop validate {label}", "validate", {"label": label})


def accept_step() -> NextStep:
    return NextStep("", "", None, {}, human="perfop accept --by NAME")


def _validated(ctx: VerifyContext) -> list[Hypothesis]:
    return [h for h in ctx.hypotheses if ctx.validations.get(h.id)]


def check_intake(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    eng = ctx.engagement
    if eng.confirmed_at:
        return True, f"confirmed at {eng.confirmed_at}", None
    return False, "intake not confirmed", intake_step()


def check_hypotheses(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    n = len(ctx.hypotheses)
    if n:
        return True, f"{n} hypothesis(es) logged", None
    return False, "none logged", hypothesis_add_step()


def check_designs(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    validated = _validated(ctx)
    missing = [h.label for h in validated if h.id not in ctx.designs]
    unapproved = [
        h.label
        for h in ctx.hypotheses
        if ctx.high_risk(h) and h.status in {Status.IMPLEMENTED, *OUTCOMES} and not ctx.approved(h)
    ]
    if missing or unapproved:
        parts = []
        if missing:
            parts.append(f"no design for {', '.join(missing)}")
        if unapproved:
            parts.append(f"no human approval for high-risk {', '.join(unapproved)}")
        step = design_step(missing[0]) if missing else approval_step(unapproved[0])
        return False, "; ".join(parts), step
    if not validated:
        first = next((h for h in ctx.hypotheses if h.candidate_sha), None)
        return False, "no hypothesis validated yet", validate_step(first.label) if first else None
    return (
        True,
        f"design recorded for {len(validated)} validated hypothesis(es); approvals complete",
        None,
    )


def check_implementation(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    done = [h for h in ctx.hypotheses if h.candidate_sha]
    if not done:
        label = ctx.hypotheses[0].label if ctx.hypotheses else "H1"
        return False, "no candidate ref recorded", candidate_step(label)
    text = ", ".join(
        f"{h.label}={h.candidate_ref} ({h.candidate_sha[:12]})" for h in done if h.candidate_sha
    )
    return True, text, None


def check_validation_fresh(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    stale = []
    done = [h for h in ctx.hypotheses if h.candidate_sha and h.status is not Status.REVERTED]
    for h in done:
        vs = ctx.validations.get(h.id) or []
        last = vs[-1] if vs else None
        if (
            last is None
            or last.candidate_sha != h.candidate_sha
            or (h.implemented_at and last.created_at < h.implemented_at)
        ):
            stale.append(h.label)
    if not done:
        return False, "nothing to validate: no candidate recorded", None
    if stale:
        text = f"not validated since the last candidate change: {', '.join(stale)}"
        return False, text, validate_step(stale[0])
    return True, f"{len(done)} candidate(s) validated at their current commit", None


def check_signoff(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    accepted = [a for a in ctx.approvals if a.kind == "acceptance"]
    if not accepted:
        return False, "no stakeholder sign-off", accept_step()
    last_val = ctx.last_validation
    latest = accepted[-1]
    if last_val is not None and latest.created_at < last_val.created_at:
        text = f"sign-off by {latest.by} predates the last validation; accept again"
        return False, text, accept_step()
    return True, f"accepted by {latest.by} at {latest.created_at}", None


REPORT_STEP = NextStep("", "perfop report -o report.md", "report", {})


def check_report_fresh(ctx: VerifyContext) -> tuple[bool, str, NextStep | None]:
    """A report was generated after the engagement's last validation (the store's reports
    table, which ``perfop report`` fills)."""
    last = ctx.last_validation
    if last is None:
        label = next((h.label for h in ctx.hypotheses if h.candidate_sha), None)
        step = NextStep("", f"perfop validate {label}", "validate", {"label": label})
        return False, "nothing validated yet (validate, then report)", step if label else None
    done = list_reports(ctx.store, ctx.engagement.id)
    fresh = [r for r in done if r.created_at >= last.created_at]
    if fresh:
        r = fresh[-1]
        return True, f"{r.format} report {r.path or '(stdout)'} at {r.created_at}", None
    if done:
        return (
            False,
            f"the last report ({done[-1].created_at}) predates the last validation "
            f"({last.created_at})",
            REPORT_STEP,
        )
    return False, "no report generated", REPORT_STEP


VERIFY_CHECKS: list[tuple[str, Check]] = [
    ("intake confirmed", check_intake),
    ("hypothesis logged", check_hypotheses),
    ("designs and approvals", check_designs),
    ("implementation recorded", check_implementation),
    ("validation after last candidate change", check_validation_fresh),
    ("report generated after the last validation", check_report_fresh),
    ("stakeholder sign-off", check_signoff),
]


def register_check(name: str, check: Check, *, before: str | None = "stakeholder sign-off") -> None:
    """Add a checklist item (by default just before the sign-off); re-registering replaces it."""
    names = [n for n, _ in VERIFY_CHECKS]
    if name in names:
        VERIFY_CHECKS[names.index(name)] = (name, check)
        return
    pos = names.index(before) if before in names else len(VERIFY_CHECKS)
    VERIFY_CHECKS.insert(pos, (name, check))


def verify(store: Store, loaded: LoadedConfig) -> list[CheckResult]:
    """Run every registered check; each passes or fails with its reason."""
    return run_checks(load_context(store, loaded))


def run_checks(ctx: VerifyContext) -> list[CheckResult]:
    results = []
    for name, fn in VERIFY_CHECKS:
        out = fn(ctx)
        step = out[2] if len(out) > 2 else None
        results.append(CheckResult(name, out[0], out[1], step))
    return results


@dataclass(frozen=True)
class StatusReport:
    """Where the engagement stands. ``engagement`` is None before the first intake."""

    engagement: Engagement | None
    stage: Stage
    done: list[str]
    step: NextStep

    @property
    def next_step(self) -> str:
        return self.step.hint("cli")

    def to_dict(self, front: Front = "cli") -> dict[str, Any]:
        eng = self.engagement
        return {
            "engagement": {"id": eng.id, "title": eng.title} if eng is not None else None,
            "stage": str(self.stage),
            "done": self.done,
            "next": self.step.hint(front),
            "next_step": self.step.to_dict(front),
        }


def start_step(loaded: LoadedConfig) -> NextStep:
    """How to start an engagement: an intake file (CLI) or the intake tool with a spec (MCP)."""
    workloads = sorted(loaded.config.workloads)
    spec: dict[str, Any] = {"title": "<what should get faster>"}
    if workloads:
        spec["workloads"] = workloads
    spec["goals"] = [{"text": "<the goal>", "metric": "wall_time", "target": "<e.g. 0.5x>"}]
    return NextStep(
        "no engagement yet; record the intake (goals, workloads, SLOs, stakeholders)",
        "perfop intake --from FILE (or --title ... flags)",
        "intake",
        {"spec": spec},
    )


def status(store: Store, loaded: LoadedConfig) -> StatusReport:
    """The current engagement's stage and next step; the derived stage is stored with it.

    Without an engagement (a fresh repository) the report says so and how to start one."""
    with store.read() as conn:
        eng = es.get_engagement(conn)
    if eng is None:
        return StatusReport(None, Stage.INTAKE, [], start_step(loaded))
    report = derive_status(load_context(store, loaded))
    assert report.engagement is not None
    if report.stage != report.engagement.stage:
        with store.write() as conn:
            es.update_engagement(conn, report.engagement.id, stage=report.stage.value)
    return report


def _profile_step(ctx: VerifyContext, workloads: tuple[str, ...]) -> NextStep | None:
    """Profile first when no workload of the engagement has a profile since the intake."""
    from perfop.store.profiles import list_profiles

    for w in workloads:
        for p in list_profiles(ctx.store, workload=w, limit=5):
            if p.created_at >= ctx.engagement.created_at[:19]:
                return None
    if not workloads:
        return None
    w = workloads[0]
    return NextStep(
        "find the hot spots before guessing", f"perfop profile {w}", "profile", {"workload": w}
    )


def _hypothesis_step(ctx: VerifyContext, workloads: tuple[str, ...]) -> NextStep:
    """Log a hypothesis, citing the newest profile's top hot spot of the repository's own code."""
    from perfop.store.profiles import list_profiles

    step = hypothesis_add_step()
    for w in workloads:
        for p in list_profiles(ctx.store, workload=w, limit=1):
            spot = next((h for h in p.hotspots if h.in_repo), None)
            if spot is not None:
                args = {**step.arguments, "workloads": [w], "evidence": [f"hotspot:{spot.id}"]}
                return NextStep(
                    f"log a ranked hypothesis (top hot spot: {spot.function} in {spot.file})",
                    step.command,
                    step.tool,
                    args,
                )
    return NextStep(
        "log ranked hypotheses from the profile", step.command, step.tool, step.arguments
    )


def derive_status(ctx: VerifyContext) -> StatusReport:
    """The engagement's stage, derived from its records alone, and the next recommended step."""
    eng = ctx.engagement
    workloads = eng.spec.workloads or tuple(ctx.loaded.config.workloads)
    baselined = [w for w in workloads if ctx.store.list_runs(workload=w, limit=1)]
    impl = [h for h in ctx.hypotheses if h.candidate_sha]
    done = _done_so_far(ctx, baselined, impl)
    fresh, *_ = check_validation_fresh(ctx)
    stage, step = _next_stage(ctx, workloads, baselined=baselined, impl=impl, fresh=fresh)
    return StatusReport(eng, stage, done, step)


def _done_so_far(ctx: VerifyContext, baselined: list[str], impl: list[Hypothesis]) -> list[str]:
    eng = ctx.engagement
    done: list[str] = [f"intake recorded: {eng.title!r}"]
    if eng.confirmed_at:
        done.append("intake confirmed")
    if baselined:
        done.append(f"baseline runs: {', '.join(baselined)}")
    if ctx.hypotheses:
        done.append(f"{len(ctx.hypotheses)} hypothesis(es) logged")
    if ctx.designs:
        done.append(f"{len(ctx.designs)} design(s) recorded")
    if impl:
        done.append(f"{len(impl)} candidate(s) recorded")
    outcomes = [f"{h.label} {h.status.value}" for h in ctx.hypotheses if h.status in OUTCOMES]
    if outcomes:
        done.append("validated: " + ", ".join(outcomes))
    return done


def _next_stage(
    ctx: VerifyContext,
    workloads: tuple[str, ...],
    *,
    baselined: list[str],
    impl: list[Hypothesis],
    fresh: bool,
) -> tuple[Stage, NextStep]:
    """The first stage whose records are missing, and its step; after validation, the closing."""
    if not ctx.engagement.confirmed_at:
        return Stage.INTAKE, _confirm_step(ctx.engagement)
    if not baselined:
        return Stage.BASELINE, NextStep(
            "measure the workloads at the base ref",
            "perfop run",
            "run",
            {"workloads": list(workloads)},
        )
    if not ctx.hypotheses:
        return Stage.HYPOTHESES, _profile_step(ctx, workloads) or _hypothesis_step(ctx, workloads)
    planned = _design_or_implementation(ctx, impl)
    if planned is not None:
        return planned
    if not fresh and (
        stale := next(
            (h for h in impl if h.status is not Status.REVERTED and not _fresh(ctx, h)), None
        )
    ):
        # Every candidate reverted leaves nothing to validate: the closing step says what next.
        s = validate_step(stale.label)
        return Stage.VALIDATION, NextStep(
            "A/B validate the candidate", s.command, s.tool, s.arguments
        )
    return _closing_step(ctx)


def _confirm_step(eng: Engagement) -> NextStep:
    """Confirm the intake, after the open questions (if any) are answered."""
    n = len(eng.open_questions)
    what = "confirm the intake"
    cli_what = None
    if n:
        what = (
            f"put the {n} open question(s) to the human, record each answer (question "
            '{"number": N, "answer": "..."}), then confirm'
        )
        cli_what = f"answer the {n} open question(s) (perfop question answer N TEXT), then confirm"
    return NextStep(what, "perfop intake --confirm", "intake", {"confirm": True}, cli_what=cli_what)


def _design_or_implementation(
    ctx: VerifyContext, impl: list[Hypothesis]
) -> tuple[Stage, NextStep] | None:
    """A hypothesis to design, approve (high risk) or implement; None once candidates exist."""
    if undesigned := [h for h in ctx.hypotheses if h.status.value == "proposed"]:
        s = design_step(undesigned[0].label)
        return Stage.DESIGN, NextStep(
            "record the fix plan and safeguards", s.command, s.tool, s.arguments
        )
    if pending := [
        h
        for h in ctx.hypotheses
        if ctx.high_risk(h)
        and not ctx.approved(h)
        and h.status in (Status.DESIGNED, Status.IMPLEMENTED)
    ]:
        s = approval_step(pending[0].label)
        return Stage.DESIGN, NextStep(
            f"{pending[0].label} is high risk: a human must approve it",
            s.command,
            s.tool,
            s.arguments,
            human=s.human,
        )
    if todo := [h for h in ctx.hypotheses if h.status in (Status.DESIGNED, Status.APPROVED)]:
        s = candidate_step(todo[0].label)
    elif not impl:
        s = candidate_step(ctx.hypotheses[0].label)
    else:
        return None
    return Stage.IMPLEMENTATION, NextStep(
        "commit the change on a branch, then record it", s.command, s.tool, s.arguments
    )


def _fresh(ctx: VerifyContext, h: Hypothesis) -> bool:
    vs = ctx.validations.get(h.id) or []
    last = vs[-1] if vs else None
    return not (
        last is None
        or last.candidate_sha != h.candidate_sha
        or (h.implemented_at is not None and last.created_at < h.implemented_at)
    )


def _closing_step(ctx: VerifyContext) -> tuple[Stage, NextStep]:
    """After validation the checklist decides: the first failing item's fix, or nothing left."""
    accepted = any(a.kind == "acceptance" for a in ctx.approvals)
    stage = Stage.HANDOFF if accepted else Stage.DOCUMENTATION
    failing = [r for r in run_checks(ctx) if not r.passed]
    if not failing:
        return Stage.HANDOFF, NextStep(
            "nothing left: every verify check passes; hand the report over", "", None, {}
        )
    first = next((r for r in failing if r.step is not None), failing[0])
    if first.name.startswith("report"):
        return stage, NextStep(
            "write the hand-off report", "perfop report -o report.md", "report", {}
        )
    s = first.step or NextStep("", "perfop verify", "verify", {})
    return stage, NextStep(
        f"{first.name}: {first.reason}", s.command, s.tool, s.arguments, human=s.human
    )
