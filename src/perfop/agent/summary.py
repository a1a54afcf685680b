"""The agent's approval-ready summary, built from the store's records.

``approval_summary`` is what the human reads at the end of every run (also after a budget stop):
improvements with their evidence, refuted and reverted attempts, residual risks, mitigations,
next steps and follow-up questions, and the hand-off checklist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from perfop.config import LoadedConfig
from perfop.engagement.records import Approval, Design, Hypothesis, Status, Validation
from perfop.store import Store


def _bullets(items: Sequence[str], empty: str = "- none") -> list[str]:
    return [f"- {i}" for i in items] if items else [empty]


def approval_summary(
    store: Store,
    loaded: LoadedConfig,
    *,
    engagement_id: int | None,
    session_id: int,
    branch: str | None,
    commits: Sequence[str],
    stop_reason: str | None,
    status: str,
    answers: Sequence[str] = (),
    report: str | None = None,
) -> str:
    """Markdown summary of the session, ready for a human to approve or send back."""
    from perfop.store import engagement as es

    lines = ["# perfop agent: approval-ready summary", ""]
    if stop_reason:
        lines += [
            f"**Stopped early** ({status}): {stop_reason}. Everything below is the state "
            "so far; uncommitted changes were reverted.",
            "",
        ]
    if engagement_id is None:
        lines += [
            "No engagement was recorded.",
            "",
            f"Transcript: perfop agent log --session {session_id}",
        ]
        return "\n".join(lines) + "\n"
    with store.read() as conn:
        eng = es.get_engagement(conn, engagement_id)
        hyps = es.list_hypotheses(conn, engagement_id)
        designs = {h.id: es.latest_design(conn, h.id) for h in hyps}
        validations = {h.id: es.list_validations(conn, h.id) for h in hyps}
        approvals = es.list_approvals(conn, engagement_id)
    assert eng is not None
    lines += [f"Engagement {eng.id}: {eng.title}", ""]
    lines += [_branch_line(branch, commits), ""]

    found = _Findings()
    for h in hyps:
        found.add(h, validations.get(h.id) or [], designs.get(h.id), approvals)
    for sha in commits:
        found.mitigations.append(f"rollback of {sha[:12]}: git revert {sha[:12]}")
    if loaded.config.test_command is None:
        found.risks.append(
            "no test_command configured: behaviour was checked only by workload output"
        )
    open_q = list(eng.open_questions) if not answers else []
    if open_q:
        found.risks.append(
            f"{len(open_q)} open question(s) unanswered; the agent worked on assumptions"
        )

    lines += ["## Improvements", "", *_bullets(found.improvements), ""]
    lines += ["## Refuted, reverted or pending", "", *_bullets(found.attempts), ""]
    lines += ["## Residual risks", "", *_bullets(found.risks), ""]
    lines += ["## Mitigations", "", *_bullets(found.mitigations), ""]
    steps = _next_steps(branch, commits, found.risks, stop_reason)
    lines += ["## Next steps", "", *_bullets(steps), ""]
    lines += ["## Follow-up questions", "", *_bullets(open_q[:10]), ""]
    lines += _checklist(store, loaded)
    if report:
        lines.append(f"Report: {report}")
    lines.append(f"Transcript: perfop agent log --session {session_id}")
    return "\n".join(lines) + "\n"


def _branch_line(branch: str | None, commits: Sequence[str]) -> str:
    if commits:
        return f"Branch `{branch}` holds {len(commits)} validated commit(s): " + ", ".join(
            c[:12] for c in commits
        )
    return f"Branch `{branch or '-'}`: no change was committed."


@dataclass
class _Findings:
    """The summary's bullet lists, filled hypothesis by hypothesis."""

    improvements: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    mitigations: list[str] = field(default_factory=list)

    def add(
        self,
        h: Hypothesis,
        vs: Sequence[Validation],
        d: Design | None,
        approvals: Sequence[Approval],
    ) -> None:
        last = vs[-1] if vs else None
        evidence = "; ".join(last.reasons[:3]) if last else "not validated"
        if last is not None and last.outcome is Status.CONFIRMED and h.status is Status.CONFIRMED:
            self.improvements.append(
                f"{h.label} confirmed: {h.statement} ({evidence}) "
                f"[validation:{last.id}, commit {last.candidate_sha[:12]}]"
            )
        elif last is not None:
            self.attempts.append(
                f"{h.label} {last.outcome.value}, now {h.status.value}: {h.statement} ({evidence})"
            )
        else:
            self.attempts.append(f"{h.label} {h.status.value}: {h.statement}")
        if h.risk != "low" or (d is not None and d.risk not in (None, "low")):
            approved = any(a.hypothesis_id == h.id for a in approvals if a.kind == "approval")
            self.risks.append(
                f"{h.label} is {h.risk} risk"
                + (" (approved by a human)" if approved else " (not approved: not implemented)")
            )
        if d is not None:
            parts = [
                f"fallback: {d.fallback}" if d.fallback else "",
                f"feature flag: {d.feature_flag}" if d.feature_flag else "",
                f"kill switch: {d.kill_switch}" if d.kill_switch else "",
                f"rollback: {d.rollback}" if d.rollback else "",
            ]
            if any(parts):
                self.mitigations.append(f"{h.label}: " + "; ".join(p for p in parts if p))


def _next_steps(
    branch: str | None, commits: Sequence[str], risks: Sequence[str], stop_reason: str | None
) -> list[str]:
    steps = []
    if commits:
        steps.append(f"review the change: git log -p {commits[0][:12]}^..{branch}")
        steps.append("sign off the trade-offs: perfop accept --by NAME")
        steps.append(f"merge {branch} when satisfied")
    pending = [r.split(" is ")[0] for r in risks if "not approved" in r]
    steps += [f"a human decides on {label}: perfop approve {label} --by NAME" for label in pending]
    if stop_reason:
        steps.append("re-run perfop agent with a larger budget to continue")
    return steps


def _checklist(store: Store, loaded: LoadedConfig) -> list[str]:
    from perfop.engagement import checks

    lines: list[str] = []
    try:
        results = checks.verify(store, loaded)
        lines += ["## Hand-off checklist (perfop verify)", ""]
        lines += [f"- [{'x' if r.passed else ' '}] {r.name}: {r.reason}" for r in results]
        lines.append("")
    except Exception as exc:  # the checklist is informative here; never lose the summary over it
        lines += [f"(verify could not run: {exc})", ""]
    return lines
