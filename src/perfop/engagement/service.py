"""Engagement services: intake, confirmation, inventory, notes, decision log, acceptance.

Front ends (CLI, MCP server, agent runner) call these with an ``Actor``; nothing here prints.
Every state change is appended to the decision log in the same transaction as the change.
Sign-offs (``accept``) and approvals are refused for agent actors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from perfop.config import LoadedConfig
from perfop.engagement.intake import parse_intake
from perfop.engagement.inventory import Finding, Inventory, scan_repo
from perfop.engagement.questions import format_recap, open_questions
from perfop.engagement.records import (
    NOTE_KINDS,
    Actor,
    Approval,
    Decision,
    Engagement,
    EngagementSpec,
)
from perfop.errors import GuardrailError, UsageError
from perfop.store import Store
from perfop.store import engagement as es


def require_human(actor: Actor, action: str, command: str) -> None:
    """Refuse ``action`` for agent actors (guardrail: agents may request, never grant)."""
    if actor.is_agent:
        raise GuardrailError(
            f"{action} refused for agent actor {actor.name!r}: only a human may {action}; "
            f"ask a maintainer to run: {command}"
        )


def log_decision(
    conn: Connection,
    engagement: Engagement | int,
    actor: Actor,
    what: str,
    *,
    why: str | None = None,
    evidence: tuple[str, ...] | list[str] = (),
    kind: str = "state-change",
    hypothesis_id: int | None = None,
) -> int:
    """Append one entry to the decision log (inside the caller's transaction)."""
    eid = engagement if isinstance(engagement, int) else engagement.id
    return es.insert_decision(
        conn,
        engagement_id=eid,
        actor=actor.label(),
        kind=kind,
        what=what,
        why=why,
        evidence=evidence,
        hypothesis_id=hypothesis_id,
    )


def current(store: Store, engagement_id: int | None = None) -> Engagement:
    """The current engagement (or the one with ``engagement_id``); UsageError when there is none."""
    with store.read() as conn:
        eng = es.get_engagement(conn, engagement_id)
    if eng is None:
        if engagement_id is not None:
            raise UsageError(
                f"--engagement {engagement_id}: no such engagement; see perfop intake --list"
            )
        raise UsageError("no engagement yet; start one with: perfop intake --from FILE (or flags)")
    return eng


def latest_inventory(store: Store) -> Inventory | None:
    with store.read() as conn:
        found = es.latest_inventory(conn)
    return Inventory.from_dict(found[1]) if found else None


def _questions(spec: EngagementSpec, loaded: LoadedConfig, inv: Inventory | None) -> list[str]:
    return open_questions(spec, loaded.config, inv)


def _check_base(loaded: LoadedConfig, base: str) -> None:
    """The intake's base must name a commit now, not fail when validate first uses it."""
    from perfop.errors import GitError
    from perfop.measure.worktrees import resolve_ref

    try:
        resolve_ref(loaded.repo_root, base)
    except GitError as exc:
        raise UsageError(f"intake base: {exc.message}") from None


def start_engagement(
    store: Store,
    loaded: LoadedConfig,
    spec: EngagementSpec,
    *,
    actor: Actor,
    confirm: bool = False,
) -> Engagement:
    """Store a new engagement (it becomes current) with its generated open questions."""
    if spec.base is not None:
        _check_base(loaded, spec.base)
    inv = latest_inventory(store) or scan_repo(loaded.repo_root)
    if spec.base is None and loaded.config.base:
        spec = EngagementSpec(**{**spec.__dict__, "base": loaded.config.base})
    questions = _questions(spec, loaded, inv)
    with store.write() as conn:
        eid = es.insert_engagement(conn, spec, questions)
        log_decision(
            conn,
            eid,
            actor,
            f"intake recorded: {spec.title!r}",
            why=f"{len(questions)} open question(s) generated",
        )
        if confirm:
            es.update_engagement(conn, eid, confirmed_at=es.now())
            log_decision(conn, eid, actor, "intake confirmed")
    return current(store, eid)


def confirm_intake(store: Store, *, actor: Actor, by: str | None = None) -> Engagement:
    """Mark the current engagement's intake confirmed (required before validation counts).

    ``by`` names the person who confirmed it when someone else records it."""
    eng = current(store)
    if eng.confirmed_at:
        return eng
    who = f" by {by.strip()}" if by and by.strip() else ""
    with store.write() as conn:
        es.update_engagement(conn, eng.id, confirmed_at=es.now())
        log_decision(
            conn,
            eng,
            actor,
            f"intake confirmed{who}",
            why=f"{len(eng.open_questions)} open question(s) outstanding",
        )
    return current(store, eng.id)


def _question(eng: Engagement, which: int | str) -> str:
    """The open question numbered ``which`` (1-based, as the recap lists them) or with that text."""
    qs = list(eng.open_questions)
    if isinstance(which, str) and not which.strip().isdigit():
        if which in qs:
            return which
        raise UsageError(
            f"question {which!r} is not an open question; list them with: perfop question list"
        )
    n = int(which)
    if not 1 <= n <= len(qs):
        where = f"1..{len(qs)}" if qs else "none are open"
        raise UsageError(
            f"question {n}: no such open question ({where}); list them with: perfop question list"
        )
    return qs[n - 1]


def answer_question(
    store: Store,
    which: int | str,
    answer: str,
    *,
    actor: Actor,
    by: str | None = None,
    drop: bool = False,
) -> Engagement:
    """Close an open question: record the human's answer (or drop it, saying why), logged.

    ``by`` is who answered (default: the actor). An agent may record a person's answer; the
    decision log says who recorded it and who answered."""
    from dataclasses import replace

    from perfop.engagement.records import QuestionAnswer

    if not answer.strip():
        raise UsageError(
            "answer: empty; give the human's answer (or, to drop the question, the reason)"
        )
    eng = current(store)
    question = _question(eng, which)
    who = (by or "").strip() or actor.label()
    closed = QuestionAnswer(question, answer.strip(), who, es.now(), dropped=drop)
    spec = replace(eng.spec, answers=(*eng.spec.answers, closed))
    with store.write() as conn:
        es.update_engagement(conn, eng.id, spec=spec.to_dict())
        verb = "dropped" if drop else "answered"
        log_decision(
            conn,
            eng,
            actor,
            f"open question {verb} by {who}: {question}",
            why=answer.strip(),
            kind="stakeholder",
        )
    return current(store, eng.id)


AMENDABLE = tuple(f for f in EngagementSpec.__dataclass_fields__ if f != "answers")


def amend_intake(
    store: Store,
    loaded: LoadedConfig,
    changes: dict[str, Any],
    *,
    actor: Actor,
    why: str | None = None,
) -> Engagement:
    """Change fields of the current intake (validated like an intake file); the change, old and
    new values, goes to the decision log and the open questions are derived again."""
    from dataclasses import replace

    eng = current(store)
    if not changes:
        raise UsageError("intake amend: nothing to change; give the fields to amend")
    unknown = sorted(set(changes) - set(AMENDABLE))
    if unknown:
        raise UsageError(
            f"intake amend: unknown field(s) {', '.join(unknown)}; use: {', '.join(AMENDABLE)}"
        )
    merged = {
        k: v for k, v in eng.spec.to_dict().items() if k != "answers" and v not in (None, [], ())
    }
    # Stored records hold goals/SLOs/stakeholders as mappings; drop empty keys so they validate.
    merged = {
        k: [
            {kk: vv for kk, vv in x.items() if vv is not None} if isinstance(x, dict) else x
            for x in v
        ]
        if isinstance(v, list | tuple)
        else v
        for k, v in merged.items()
    }
    merged.update(changes)
    spec = parse_intake(merged, source="intake amend", config=loaded.config)
    if spec.base is not None and spec.base != eng.spec.base:
        _check_base(loaded, spec.base)
    spec = replace(spec, answers=eng.spec.answers)
    before, after = eng.spec.to_dict(), spec.to_dict()
    changed = sorted(k for k in after if before.get(k) != after.get(k))
    if not changed:
        return eng
    inv = latest_inventory(store)
    with store.write() as conn:
        es.update_engagement(
            conn,
            eng.id,
            spec=spec.to_dict(),
            generated_questions=_questions(spec, loaded, inv),
        )
        detail = "; ".join(f"{k}: {before.get(k)!r} -> {after.get(k)!r}" for k in changed)
        log_decision(
            conn,
            eng,
            actor,
            f"intake amended: {', '.join(changed)}",
            why=f"{why.strip()} ({detail})" if why and why.strip() else detail,
        )
    return current(store, eng.id)


def use_engagement(store: Store, engagement_id: int, *, actor: Actor) -> Engagement:
    eng = current(store, engagement_id)
    with store.write() as conn:
        es.set_current(conn, eng.id)
        log_decision(conn, eng, actor, f"engagement {eng.id} made current")
    return current(store)


def list_engagements(store: Store) -> list[Engagement]:
    with store.read() as conn:
        return es.list_engagements(conn)


def recap(store: Store, engagement: Engagement | None = None) -> str:
    eng = engagement or current(store)
    return format_recap(eng.spec, list(eng.open_questions), confirmed=bool(eng.confirmed_at))


def parse_intake_mapping(data: dict[str, Any], loaded: LoadedConfig, source: str) -> EngagementSpec:
    """Validate an intake mapping (e.g. from an MCP tool call) like a file."""
    return parse_intake(data, source=source, config=loaded.config)


@dataclass(frozen=True)
class InventoryResult:
    id: int
    inventory: Inventory
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "created_at": self.created_at, **self.inventory.to_dict()}


def _suite_findings(loaded: LoadedConfig) -> list[Finding]:
    """Each configured suite workload with the benchmarks its own runner discovers."""
    from perfop.errors import PerfopError
    from perfop.measure.service import list_suites

    out = []
    for name, wl in loaded.config.workloads.items():
        if not wl.is_suite:
            continue
        try:
            (listing,) = list_suites(loaded, [name])
        except PerfopError as exc:
            out.append(Finding(f"{wl.kind}-workload", name, f"listing failed: {exc}"))
            continue
        shown = ", ".join(listing.benchmarks[:20])
        more = f" and {len(listing.benchmarks) - 20} more" if len(listing.benchmarks) > 20 else ""
        detail = f"{len(listing.benchmarks)} benchmarks: {shown}{more}"
        out.append(Finding(f"{wl.kind}-workload", name, detail))
    return out


def run_inventory(store: Store, loaded: LoadedConfig, *, actor: Actor) -> InventoryResult:
    """Scan the repository, add prior perfop runs from the store, record the result."""
    scanned = scan_repo(loaded.repo_root)
    runs = store.list_runs(limit=1000)
    by_workload = Counter(r.workload for r in runs)
    latest: dict[str, int] = {}
    for r in runs:
        latest.setdefault(r.workload, r.id)
    prior = tuple(
        Finding("perfop-runs", w, f"{n} run(s), latest run id {latest[w]}")
        for w, n in sorted(by_workload.items())
    )
    suites = tuple(_suite_findings(loaded))
    inv = Inventory(
        **{
            **scanned.__dict__,
            "benchmark_suites": scanned.benchmark_suites + suites,
            "perfop_runs": prior,
        }
    )
    with store.read() as conn:
        eng = es.get_engagement(conn)
    with store.write() as conn:
        iid = es.insert_inventory(conn, eng.id if eng else None, inv.to_dict())
        if eng is not None:
            counts = ", ".join(f"{k}={len(getattr(inv, k))}" for k in inv.CATEGORIES)
            log_decision(
                conn, eng, actor, "inventory recorded", why=counts, evidence=[f"inventory:{iid}"]
            )
            # Re-derive the open questions now that the repo is known (feature flags, tests).
            es.update_engagement(
                conn, eng.id, generated_questions=_questions(eng.spec, loaded, inv)
            )
        found = es.latest_inventory(conn)
    assert found is not None
    return InventoryResult(iid, inv, found[2])


def add_note(
    store: Store, text: str, *, kind: str, actor: Actor, evidence: tuple[str, ...] = ()
) -> Decision:
    """Add a decision-log note of kind stakeholder | decision | risk | follow-up."""
    if kind not in NOTE_KINDS:
        raise UsageError(
            f"--kind: {kind!r} is not a note kind; use one of: {', '.join(NOTE_KINDS)}"
        )
    if not text.strip():
        raise UsageError("note: the text is empty; give the note as an argument")
    eng = current(store)
    with store.write() as conn:
        did = log_decision(conn, eng, actor, text.strip(), kind=kind, evidence=evidence)
        return next(d for d in es.list_decisions(conn, eng.id) if d.id == did)


def decision_log(store: Store) -> list[Decision]:
    eng = current(store)
    with store.read() as conn:
        return es.list_decisions(conn, eng.id)


def accept(store: Store, *, by: str, actor: Actor, note: str | None = None) -> Approval:
    """Record the stakeholder sign-off of the trade-offs (human only)."""
    require_human(actor, "sign off", "perfop accept --by NAME")
    if not by.strip():
        raise UsageError("--by: give the name of the stakeholder signing off")
    eng = current(store)
    with store.write() as conn:
        aid = es.insert_approval(
            conn,
            engagement_id=eng.id,
            hypothesis_id=None,
            kind="acceptance",
            by=by.strip(),
            note=note,
        )
        log_decision(
            conn,
            eng,
            actor,
            f"trade-offs accepted by {by.strip()}",
            why=note,
            kind="stakeholder",
            evidence=[f"approval:{aid}"],
        )
        return next(a for a in es.list_approvals(conn, eng.id) if a.id == aid)
