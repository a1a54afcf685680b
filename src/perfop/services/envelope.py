"""The JSON envelopes every front end emits: ``{"schema": ..., "kind": ..., **body}``, the schema
names defined once, and the documents the CLI's ``--format json`` and the tools (MCP, agent)
share, built from the services' typed results.

Light (the standard library at module level; a builder imports what it formats):
``perfop run --help`` must not pay for it. A document
an agent reads may phrase its hints for a tool caller (``front="mcp"``); the CLI's says
``perfop VERB``; every other field is the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

ENGAGEMENT_SCHEMA = "perfop.engagement/1"  # intake ... verify, validation: one kind each
RUNS_SCHEMA = "perfop.runs/1"  # stored runs' summaries (perfop runs list, the runs tool)
SUITES_SCHEMA = "perfop.suites/1"  # the benchmark suites a repository has (perfop run --list)
PROFILE_DIFF_SCHEMA = "perfop.profile-diff/1"  # two profiles and their hot spots' differences
AGENT_SESSIONS_SCHEMA = "perfop.agent-sessions/1"  # perfop agent's stored sessions
AGENT_LOG_SCHEMA = "perfop.agent-log/1"  # one agent session and its messages


def envelope(schema: str, kind: str | None = None, /, **body: Any) -> dict[str, Any]:
    """``{"schema": schema, "kind": kind, **body}`` (no ``kind`` key when kind is None)."""
    head: dict[str, Any] = {"schema": schema}
    if kind is not None:
        head["kind"] = kind
    return {**head, **body}


def engagement_doc(kind: str, /, **body: Any) -> dict[str, Any]:
    """A ``perfop.engagement/1`` document of one kind (intake, status, hypothesis, ...)."""
    return envelope(ENGAGEMENT_SCHEMA, kind, **body)


def runs_document(records: Iterable[Any]) -> dict[str, Any]:
    """``perfop.runs/1`` of stored runs (each a ``perfop.store`` run record)."""
    return envelope(RUNS_SCHEMA, runs=[r.summary_document() for r in records])


def profile_diff_document(result: Any) -> dict[str, Any]:
    """Both profiles of a ``profiling.service.profile_diff`` and their differences."""
    from perfop.profiling.diff import diff_to_dict
    from perfop.profiling.document import profile_document

    return envelope(
        PROFILE_DIFF_SCHEMA,
        base=profile_document(result.base),
        candidate=profile_document(result.candidate),
        diffs=[diff_to_dict(d) for d in result.diffs],
    )


def questions_document(eng: Any) -> dict[str, Any]:
    """The intake's open questions (numbered) and the answered ones."""
    return engagement_doc(
        "questions",
        open=[{"number": i, "question": q} for i, q in enumerate(eng.open_questions, 1)],
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


def ranked_row(r: Any) -> dict[str, Any]:
    """One ranked hypothesis (``engagement.hypotheses.RankedHypothesis``): rank, score, gain and
    the hypothesis' own fields."""
    return {"rank": r.rank, "score": r.score, "gain": r.gain, **r.hypothesis.to_dict()}


def hypotheses_document(
    formula: str, ranked: Sequence[Any], last: Mapping[Any, Any]
) -> dict[str, Any]:
    """The ranked hypotheses, each with its latest validation (``lifecycle.latest_validations``)."""
    return engagement_doc(
        "hypotheses",
        formula=formula,
        hypotheses=[
            {**ranked_row(r), "last_validation": last.get(r.hypothesis.id)} for r in ranked
        ],
    )


def engagement_document(
    eng: Any, *, recap: str, status: Any, formula: str, ranked: Sequence[Any]
) -> dict[str, Any]:
    """The current engagement whole: its intake, recap, stage (``checks.status``) and ranked
    hypotheses (what the MCP resource ``perfop://engagement/current`` serves)."""
    return engagement_doc(
        "engagement",
        engagement=eng.to_dict(),
        recap=recap,
        status=status.to_dict(),
        formula=formula,
        hypotheses=[ranked_row(r) for r in ranked],
    )


def status_document(report: Any, *, front: str = "cli") -> dict[str, Any]:
    """Where the engagement stands (``engagement.checks.status``), its next step for ``front``."""
    return engagement_doc("status", **report.to_dict(front))


def verify_document(results: Sequence[Any], *, front: str = "cli") -> dict[str, Any]:
    """The hand-off checklist (``engagement.checks.verify``); passed while every item passes."""
    return engagement_doc(
        "verify",
        passed=all(r.passed for r in results),
        checks=[r.to_dict(front) for r in results],
    )
