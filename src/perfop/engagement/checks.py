"""Status (stage, what is done, next step) and the ``perfop verify`` checklist.

The checklist is a registry: ``register_check(name, fn)`` adds an item, where ``fn`` takes a
``VerifyContext`` (every engagement record, plus the store and config for checks that need more,
e.g. "report generated after the last validation") and returns ``(passed, reason)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from perfop.config import LoadedConfig
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


Check = Callable[[VerifyContext], tuple[bool, str]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _validated(ctx: VerifyContext) -> list[Hypothesis]:
    return [h for h in ctx.hypotheses if ctx.validations.get(h.id)]


def check_intake(ctx: VerifyContext) -> tuple[bool, str]:
    eng = ctx.engagement
    if eng.confirmed_at:
        return True, f"confirmed at {eng.confirmed_at}"
    return False, "intake not confirmed; run: perfop intake --confirm"


def check_hypotheses(ctx: VerifyContext) -> tuple[bool, str]:
    n = len(ctx.hypotheses)
    return (n > 0, f"{n} hypothesis(es) logged" if n else "none logged; run: perfop hypothesis add")


def check_designs(ctx: VerifyContext) -> tuple[bool, str]:
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
            parts.append(f"no design for {', '.join(missing)} (perfop design H)")
        if unapproved:
            parts.append(
                f"no approval for high-risk {', '.join(unapproved)} (perfop approve H --by)"
            )
        return False, "; ".join(parts)
    if not validated:
        return False, "no hypothesis validated yet; run: perfop validate H"
    return (
        True,
        f"design recorded for {len(validated)} validated hypothesis(es); approvals complete",
    )


def check_implementation(ctx: VerifyContext) -> tuple[bool, str]:
    done = [h for h in ctx.hypotheses if h.candidate_sha]
    if not done:
        return False, "no candidate ref recorded; run: perfop hypothesis update H --candidate REF"
    return True, ", ".join(
        f"{h.label}={h.candidate_ref} ({h.candidate_sha[:12]})" for h in done if h.candidate_sha
    )


def check_validation_fresh(ctx: VerifyContext) -> tuple[bool, str]:
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
        return False, "nothing to validate: no candidate recorded"
    if stale:
        return False, f"not validated since the last candidate change: {', '.join(stale)}"
    return True, f"{len(done)} candidate(s) validated at their current commit"


def check_signoff(ctx: VerifyContext) -> tuple[bool, str]:
    accepted = [a for a in ctx.approvals if a.kind == "acceptance"]
    if not accepted:
        return False, "no stakeholder sign-off; run: perfop accept --by NAME"
    last_val = ctx.last_validation
    latest = accepted[-1]
    if last_val is not None and latest.created_at < last_val.created_at:
        return False, f"sign-off by {latest.by} predates the last validation; accept again"
    return True, f"accepted by {latest.by} at {latest.created_at}"


VERIFY_CHECKS: list[tuple[str, Check]] = [
    ("intake confirmed", check_intake),
    ("hypothesis logged", check_hypotheses),
    ("designs and approvals", check_designs),
    ("implementation recorded", check_implementation),
    ("validation after last candidate change", check_validation_fresh),
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


# Modules that add checklist items with ``register_check`` when imported (other packages' items).
CHECK_PLUGINS: tuple[str, ...] = ("perfop.report.checks",)


def verify(store: Store, loaded: LoadedConfig) -> list[CheckResult]:
    """Run every registered check; each passes or fails with its reason."""
    for module in CHECK_PLUGINS:
        importlib.import_module(module)
    ctx = load_context(store, loaded)
    return [CheckResult(name, *fn(ctx)) for name, fn in VERIFY_CHECKS]


@dataclass(frozen=True)
class StatusReport:
    engagement: Engagement
    stage: Stage
    done: list[str]
    next_step: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "engagement": {"id": self.engagement.id, "title": self.engagement.title},
            "stage": str(self.stage),
            "done": self.done,
            "next": self.next_step,
        }


def status(store: Store, loaded: LoadedConfig) -> StatusReport:
    """The current engagement's stage and next step; the derived stage is stored with it."""
    report = derive_status(load_context(store, loaded))
    if report.stage != report.engagement.stage:
        with store.write() as conn:
            es.update_engagement(conn, report.engagement.id, stage=report.stage.value)
    return report


def derive_status(ctx: VerifyContext) -> StatusReport:
    """The engagement's stage, derived from its records alone, and the next recommended step."""
    eng = ctx.engagement
    done: list[str] = [f"intake recorded: {eng.title!r}"]
    if eng.confirmed_at:
        done.append("intake confirmed")
    workloads = eng.spec.workloads or tuple(ctx.loaded.config.workloads)
    baselined = [w for w in workloads if ctx.store.list_runs(workload=w, limit=1)]
    if baselined:
        done.append(f"baseline runs: {', '.join(baselined)}")
    if ctx.hypotheses:
        done.append(f"{len(ctx.hypotheses)} hypothesis(es) logged")
    if ctx.designs:
        done.append(f"{len(ctx.designs)} design(s) recorded")
    impl = [h for h in ctx.hypotheses if h.candidate_sha]
    if impl:
        done.append(f"{len(impl)} candidate(s) recorded")
    outcomes = [f"{h.label} {h.status.value}" for h in ctx.hypotheses if h.status in OUTCOMES]
    if outcomes:
        done.append("validated: " + ", ".join(outcomes))

    fresh, _ = check_validation_fresh(ctx)
    if not eng.confirmed_at:
        stage, step = Stage.INTAKE, "answer the open questions, then: perfop intake --confirm"
    elif not baselined:
        stage, step = Stage.BASELINE, "measure the workloads at the base ref: perfop run"
    elif not ctx.hypotheses:
        stage, step = Stage.HYPOTHESES, "profile and log ranked hypotheses: perfop hypothesis add"
    elif not ctx.designs:
        top = ctx.hypotheses[0].label
        stage, step = Stage.DESIGN, f"record the fix plan and safeguards: perfop design {top}"
    elif pending := [
        h
        for h in ctx.hypotheses
        if ctx.high_risk(h)
        and not ctx.approved(h)
        and h.status in (Status.DESIGNED, Status.IMPLEMENTED)
    ]:
        stage, step = Stage.DESIGN, f"a human approves: perfop approve {pending[0].label} --by NAME"
    elif not impl:
        stage = Stage.IMPLEMENTATION
        step = "commit the change on a branch, then: perfop hypothesis update H --candidate REF"
    elif not fresh:
        stage, step = (
            Stage.VALIDATION,
            f"A/B validate the candidate: perfop validate {impl[0].label}",
        )
    elif not any(a.kind == "acceptance" for a in ctx.approvals):
        stage = Stage.DOCUMENTATION
        step = "perfop report, then a stakeholder signs off: perfop accept --by NAME"
    else:
        stage, step = Stage.HANDOFF, "check every stage: perfop verify"
    return StatusReport(eng, stage, done, step)
