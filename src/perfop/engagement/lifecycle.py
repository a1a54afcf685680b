"""Hypothesis services: add, list (ranked), show, update, design, approve, record a candidate.

Every status change goes through ``hypotheses.check_transition`` and is logged to the decision log
in the same transaction. Approvals are refused for agent actors (``GuardrailError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from perfop import git
from perfop.config import LoadedConfig
from perfop.engagement.evidence import check_evidence
from perfop.engagement.hypotheses import (
    MANUAL_TARGETS,
    RankedHypothesis,
    check_transition,
    needs_approval,
    parse_confidence,
    parse_effort,
    parse_label,
    parse_ratio,
    rank,
)
from perfop.engagement.records import (
    RISKS,
    Actor,
    Approval,
    Decision,
    Design,
    Engagement,
    Hypothesis,
    Status,
    Validation,
)
from perfop.engagement.risk import check_rerating
from perfop.engagement.service import current, log_decision, require_human
from perfop.errors import GitError, GuardrailError, UsageError
from perfop.store import Store
from perfop.store import engagement as es


def resolve_commit(repo: Path, ref: str) -> str:
    """Full sha of ``ref`` (read-only ``git rev-parse``); GitError naming the ref otherwise."""
    out = git.run(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", user_env=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise GitError(f"ref {ref!r} does not resolve to a commit in {repo}; check the name")
    return out.stdout.strip()


def get(store: Store, label: str, engagement: Engagement | None = None) -> Hypothesis:
    eng = engagement or current(store)
    number = parse_label(label)
    with store.read() as conn:
        hyp = es.get_hypothesis(conn, eng.id, number)
    if hyp is None:
        raise UsageError(f"hypothesis H{number} not found; list them with: perfop hypothesis list")
    return hyp


_DEFAULTS: dict[str, Any] = {
    "metric": "wall_time",
    "expected_ratio": 0.9,
    "effort": 1.0,
    "confidence": 0.5,
    "risk": "low",
}
HYPOTHESIS_FIELDS = (
    "statement",
    "root_cause",
    "components",
    "workloads",
    "metric",
    "expected_ratio",
    "effort",
    "confidence",
    "risk",
    "verification",
    "evidence",
)


def _check_fields(fields: dict[str, Any], loaded: LoadedConfig) -> None:
    """Validate (and normalise in place) hypothesis fields from any front end."""
    unknown = set(fields) - set(HYPOTHESIS_FIELDS)
    if unknown:
        raise UsageError(f"hypothesis: unknown field(s) {', '.join(sorted(unknown))}")
    if "expected_ratio" in fields:
        fields["expected_ratio"] = parse_ratio(fields["expected_ratio"])
    if "effort" in fields:
        fields["effort"] = parse_effort(fields["effort"])
    if "confidence" in fields:
        fields["confidence"] = parse_confidence(fields["confidence"])
    if "risk" in fields and fields["risk"] not in RISKS:
        raise UsageError(f"--risk: {fields['risk']!r} must be one of: {', '.join(RISKS)}")
    for name in fields.get("workloads", ()):
        loaded.workload(name)  # ConfigError naming the unknown workload
    if "statement" in fields and not str(fields["statement"]).strip():
        raise UsageError("statement: empty; say what you expect to change and why")


def add(store: Store, loaded: LoadedConfig, *, actor: Actor, **fields: Any) -> Hypothesis:
    """Log a hypothesis (status proposed). ``workloads`` default to the engagement's."""
    eng = current(store)
    fields = {**_DEFAULTS, "workloads": eng.spec.workloads, **fields}
    _check_fields(fields, loaded)
    fields["evidence"] = check_evidence(store, fields.get("evidence", ()))
    with store.write() as conn:
        hid = es.insert_hypothesis(conn, eng.id, fields)
        hyp = next(h for h in es.list_hypotheses(conn, eng.id) if h.id == hid)
        log_decision(
            conn,
            eng,
            actor,
            f"{hyp.label} proposed: {hyp.statement}",
            why=hyp.root_cause,
            evidence=hyp.evidence,
            hypothesis_id=hid,
        )
    return hyp


def validation_brief(v: Validation) -> dict[str, Any]:
    """What a listing shows of a hypothesis' latest validation: outcome, the targeted
    workloads' ratio with its CI, and the minimum detectable effect (why inconclusive is so)."""
    rows = [w for w in v.evidence.get("workloads", []) if w.get("targeted", True)]
    return {
        "id": v.id,
        "outcome": str(v.outcome),
        "headline": (v.evidence.get("outcome") or {}).get("headline", str(v.outcome)),
        "stacked_on": (v.evidence.get("stacked_on") or {}).get("label"),
        "workloads": [
            {
                k: w.get(k)
                for k in ("workload", "metric", "verdict", "ratio", "ci_low", "ci_high", "mde")
            }
            for w in rows
        ],
    }


def latest_validations(store: Store) -> dict[int, dict[str, Any]]:
    """``validation_brief`` of each hypothesis' latest validation, by hypothesis id."""
    eng = current(store)
    out = {}
    with store.read() as conn:
        for h in es.list_hypotheses(conn, eng.id):
            vs = es.list_validations(conn, h.id)
            if vs:
                out[h.id] = validation_brief(vs[-1])
    return out


def ranked(store: Store) -> list[RankedHypothesis]:
    eng = current(store)
    with store.read() as conn:
        return rank(es.list_hypotheses(conn, eng.id))


@dataclass(frozen=True)
class HypothesisDetail:
    hypothesis: Hypothesis
    needs_approval: bool
    design: Design | None
    approvals: list[Approval]
    validations: list[Validation]
    decisions: list[Decision] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.hypothesis.to_dict(),
            "needs_approval": self.needs_approval,
            "design": self.design.to_dict() if self.design else None,
            "approvals": [a.to_dict() for a in self.approvals],
            "validations": [v.to_dict() for v in self.validations],
            "decisions": [d.to_dict() for d in self.decisions],
        }


def show(store: Store, loaded: LoadedConfig, label: str) -> HypothesisDetail:
    eng = current(store)
    hyp = get(store, label, eng)
    with store.read() as conn:
        return HypothesisDetail(
            hypothesis=hyp,
            needs_approval=needs_approval(hyp, loaded.config.high_risk_paths),
            design=es.latest_design(conn, hyp.id),
            approvals=es.list_approvals(conn, eng.id, kind="approval", hypothesis_id=hyp.id),
            validations=es.list_validations(conn, hyp.id),
            decisions=[d for d in es.list_decisions(conn, eng.id) if d.hypothesis_id == hyp.id],
        )


def is_approved(conn: Connection, engagement_id: int, hypothesis_id: int) -> bool:
    return bool(
        es.list_approvals(conn, engagement_id, kind="approval", hypothesis_id=hypothesis_id)
    )


def transition(
    conn: Connection,
    loaded: LoadedConfig,
    eng: Engagement,
    hyp: Hypothesis,
    target: Status,
    *,
    actor: Actor,
    why: str | None = None,
    evidence: tuple[str, ...] | list[str] = (),
    extra: dict[str, Any] | None = None,
) -> None:
    """Move ``hyp`` to ``target`` (checked) and log it, inside the caller's transaction."""
    check_transition(
        hyp,
        target,
        needs_approval=needs_approval(hyp, loaded.config.high_risk_paths),
        approved=is_approved(conn, eng.id, hyp.id),
    )
    es.update_hypothesis(conn, hyp.id, status=target, **(extra or {}))
    what = f"{hyp.label}: {hyp.status.value} -> {target.value}"
    log_decision(conn, eng, actor, what, why=why, evidence=evidence, hypothesis_id=hyp.id)


def _log_rerating(
    conn: Connection, eng: Engagement, actor: Actor, hyp: Hypothesis, risk: str, *, why: str | None
) -> None:
    log_decision(
        conn,
        eng,
        actor,
        f"{hyp.label} risk {hyp.risk} -> {risk} (re-rated by {actor.label()})",
        why=why,
        kind="risk",
        hypothesis_id=hyp.id,
    )


def update(
    store: Store,
    loaded: LoadedConfig,
    label: str,
    *,
    actor: Actor,
    status: Status | None = None,
    candidate: str | None = None,
    note: str | None = None,
    **fields: Any,
) -> Hypothesis:
    """Edit fields, record a candidate ref (-> implemented) or set a manual status."""
    eng = current(store)
    hyp = get(store, label, eng)
    fields = {k: v for k, v in fields.items() if v is not None}
    _check_fields(fields, loaded)
    if "evidence" in fields:
        fields["evidence"] = check_evidence(store, fields["evidence"])
    _check_manual_status(hyp, status, candidate)
    check_rerating(
        hyp,
        actor,
        loaded.config.high_risk_paths,
        risk=fields.get("risk"),
        components=fields.get("components"),
    )
    with store.write() as conn:
        if fields:
            _write_fields(conn, eng, actor, hyp, fields, note=note)
        if candidate is not None:
            hyp = _record_candidate(conn, loaded, eng, hyp, actor, candidate, note=note)
        if status is not None and status is not Status.IMPLEMENTED:
            transition(conn, loaded, eng, hyp, status, actor=actor, why=note)
        if not fields and candidate is None and status is None and note:
            log_decision(
                conn,
                eng,
                actor,
                f"{hyp.label}: note",
                why=note,
                kind="decision",
                hypothesis_id=hyp.id,
            )
        out = es.get_hypothesis(conn, eng.id, hyp.number)
    assert out is not None
    return out


def _check_manual_status(hyp: Hypothesis, status: Status | None, candidate: str | None) -> None:
    """Refuse a status ``update`` may not set by hand (confirmed comes from evidence alone)."""
    if status is Status.CONFIRMED:
        raise GuardrailError(
            f"{hyp.label}: confirmed is set only from evidence; run: perfop validate {hyp.label}"
        )
    if status is not None and status not in MANUAL_TARGETS and status is not Status.IMPLEMENTED:
        allowed = ", ".join(sorted(s.value for s in MANUAL_TARGETS))
        raise UsageError(
            f"--status {status.value}: set by its own command (design, approve, validate); "
            f"by hand use one of: {allowed}"
        )
    if status is Status.IMPLEMENTED and candidate is None:
        raise UsageError(f"--status implemented needs --candidate REF (the commit of {hyp.label})")


def _write_fields(
    conn: Connection,
    eng: Engagement,
    actor: Actor,
    hyp: Hypothesis,
    fields: dict[str, Any],
    *,
    note: str | None,
) -> None:
    es.update_hypothesis(conn, hyp.id, **fields)
    log_decision(
        conn,
        eng,
        actor,
        f"{hyp.label} updated: {', '.join(sorted(fields))}",
        why=note,
        hypothesis_id=hyp.id,
    )
    if fields.get("risk", hyp.risk) != hyp.risk:
        _log_rerating(conn, eng, actor, hyp, fields["risk"], why=note)


def _record_candidate(
    conn: Connection,
    loaded: LoadedConfig,
    eng: Engagement,
    hyp: Hypothesis,
    actor: Actor,
    candidate: str,
    *,
    note: str | None,
) -> Hypothesis:
    """Resolve the candidate ref and move the hypothesis to implemented; returns it re-read."""
    sha = resolve_commit(loaded.repo_root, candidate)
    transition(
        conn,
        loaded,
        eng,
        hyp,
        Status.IMPLEMENTED,
        actor=actor,
        why=note or f"candidate {candidate} ({sha[:12]})",
        evidence=[f"commit:{sha}"],
        extra={
            "candidate_ref": candidate,
            "candidate_sha": sha,
            "implemented_at": es.now(),
        },
    )
    return es.get_hypothesis(conn, eng.id, hyp.number) or hyp


DESIGN_FIELDS = (
    "fix",
    "fallback",
    "data_collection",
    "feature_flag",
    "kill_switch",
    "tests_to_add",
    "rollback",
    "coverage",
    "risk",
)


def design(
    store: Store, loaded: LoadedConfig, label: str, *, actor: Actor, **data: Any
) -> tuple[Hypothesis, Design]:
    """Record the fix plan and safeguards; the hypothesis moves to ``designed``.

    A ``risk`` given here re-rates the hypothesis (e.g. the design revealed it is high risk).
    """
    eng = current(store)
    hyp = get(store, label, eng)
    unknown = set(data) - set(DESIGN_FIELDS)
    if unknown:
        raise UsageError(f"design: unknown field(s) {', '.join(sorted(unknown))}")
    if not str(data.get("fix") or "").strip():
        raise UsageError("--fix: required; describe the proposed change")
    if data.get("risk") is not None and data["risk"] not in RISKS:
        raise UsageError(f"--risk: {data['risk']!r} must be one of: {', '.join(RISKS)}")
    data["tests_to_add"] = list(data.get("tests_to_add") or ())
    check_rerating(hyp, actor, loaded.config.high_risk_paths, risk=data.get("risk"))
    with store.write() as conn:
        if data.get("risk") and data["risk"] != hyp.risk:
            es.update_hypothesis(conn, hyp.id, risk=data["risk"])
            _log_rerating(conn, eng, actor, hyp, data["risk"], why="re-rated at design")
            hyp = es.get_hypothesis(conn, eng.id, hyp.number) or hyp
        did = es.insert_design(conn, hyp.id, data, actor.label())
        if hyp.status is not Status.DESIGNED:
            transition(
                conn,
                loaded,
                eng,
                hyp,
                Status.DESIGNED,
                actor=actor,
                why=data["fix"],
                evidence=[f"design:{did}"],
            )
        else:
            log_decision(
                conn,
                eng,
                actor,
                f"{hyp.label}: design revised",
                why=data["fix"],
                evidence=[f"design:{did}"],
                hypothesis_id=hyp.id,
            )
        new = es.get_hypothesis(conn, eng.id, hyp.number)
        rec = es.latest_design(conn, hyp.id)
    assert new is not None and rec is not None
    return new, rec


def _check_done_evidence(loaded: LoadedConfig, evidence: str) -> str:
    """``test:<id>`` (a test id, e.g. ``tests/test_x.py::test_y``) or ``commit:<ref>`` (resolved
    to its sha); a bare ``path::name`` is a test id, a bare ref a commit."""
    value = evidence.strip()
    if not value:
        raise UsageError(
            "--evidence: give the test id (test:FILE::NAME) or the commit (commit:REF)"
        )
    kind, _, rest = value.partition(":")
    if kind == "test" and rest.strip():
        return f"test:{rest.strip()}"
    if kind == "commit" and rest.strip():
        return f"commit:{resolve_commit(loaded.repo_root, rest.strip())}"
    if "::" in value:
        return f"test:{value}"
    try:
        return f"commit:{resolve_commit(loaded.repo_root, value)}"
    except GitError:
        raise UsageError(
            f"--evidence {value!r}: neither a test id (test:FILE::NAME) nor a commit "
            "(commit:REF) of this repository"
        ) from None


def mark_done(
    store: Store,
    loaded: LoadedConfig,
    label: str,
    item: str | int,
    *,
    evidence: str,
    actor: Actor,
) -> Design:
    """Mark one item of the design's tests to add as done, with its evidence (logged)."""
    eng = current(store)
    hyp = get(store, label, eng)
    with store.read() as conn:
        rec = es.latest_design(conn, hyp.id)
    if rec is None:
        raise UsageError(f"{hyp.label}: no design recorded yet; run: perfop design {hyp.label}")
    items = list(rec.tests_to_add)
    if isinstance(item, int) or str(item).strip().isdigit():
        n = int(item)
        if not 1 <= n <= len(items):
            where = f"1..{len(items)}" if items else "the design lists none"
            raise UsageError(f"item {n}: {hyp.label}'s design has no test to add {n} ({where})")
        chosen = items[n - 1]
    elif item in items:
        chosen = str(item)
    else:
        raise UsageError(
            f"item {item!r}: not among {hyp.label}'s tests to add; "
            f"give its number (1..{len(items)})"
        )
    proof = _check_done_evidence(loaded, evidence)
    done = {**rec.done, chosen: {"evidence": proof, "by": actor.label(), "at": es.now()}}
    data = {k: v for k, v in rec.to_dict().items() if k in DESIGN_FIELDS}
    data["tests_to_add"] = list(rec.tests_to_add)
    data["done"] = done
    with store.write() as conn:
        es.update_design_data(conn, rec.id, data)
        log_decision(
            conn,
            eng,
            actor,
            f"{hyp.label}: test to add done: {chosen}",
            evidence=[proof],
            hypothesis_id=hyp.id,
        )
        out = es.latest_design(conn, hyp.id)
    assert out is not None
    return out


def approve(
    store: Store,
    loaded: LoadedConfig,
    label: str,
    *,
    by: str,
    actor: Actor,
    note: str | None = None,
) -> Approval:
    """Record a human approval of a high-risk hypothesis (refused for agent actors)."""
    require_human(actor, "approve", f"perfop approve {label} --by NAME")
    if not by.strip():
        raise UsageError("--by: give the name of the approver")
    eng = current(store)
    hyp = get(store, label, eng)
    with store.write() as conn:
        if not needs_approval(hyp, loaded.config.high_risk_paths):
            raise UsageError(
                f"{hyp.label}: risk is {hyp.risk} and it touches no high_risk_paths; approval is "
                "only for high-risk hypotheses"
            )
        if hyp.status in (Status.PROPOSED,):
            raise UsageError(f"{hyp.label}: no design recorded yet; run: perfop design {hyp.label}")
        aid = es.insert_approval(
            conn,
            engagement_id=eng.id,
            hypothesis_id=hyp.id,
            kind="approval",
            by=by.strip(),
            note=note,
        )
        if hyp.status is Status.DESIGNED:
            transition(
                conn,
                loaded,
                eng,
                hyp,
                Status.APPROVED,
                actor=actor,
                why=note or f"approved by {by.strip()}",
                evidence=[f"approval:{aid}"],
            )
        else:
            log_decision(
                conn,
                eng,
                actor,
                f"{hyp.label} approved by {by.strip()}",
                why=note,
                evidence=[f"approval:{aid}"],
                hypothesis_id=hyp.id,
            )
        return next(a for a in es.list_approvals(conn, eng.id) if a.id == aid)
