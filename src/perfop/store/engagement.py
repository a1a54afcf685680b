"""Engagement tables (schema version 2) and their plain queries.

Tables: engagements, hypotheses, designs, approvals, decisions, validations, inventories. Query
functions take a ``Connection`` so a service can change state and append to the decision log in
one transaction (``with store.write() as conn``). Rows convert to the frozen records of
``perfop.records.engagement``.

Migration 1 -> 2 only adds these tables; existing runs, samples, failures and environments are
left untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from perfop.clock import utcnow
from perfop.errors import UsageError
from perfop.records.engagement import (
    Approval,
    Decision,
    Design,
    Engagement,
    EngagementSpec,
    Goal,
    Hypothesis,
    QuestionAnswer,
    SLOTarget,
    Stage,
    Stakeholder,
    Status,
    Validation,
)
from perfop.redact import redact_text
from perfop.store import schema as s

metadata = s.metadata

engagements = sa.Table(
    "engagements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("spec", sa.JSON, nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False, default=False),
    sa.Column("confirmed_at", sa.String(40)),
    sa.Column("generated_questions", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

hypotheses = sa.Table(
    "hypotheses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, sa.ForeignKey("engagements.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("statement", sa.Text, nullable=False),
    sa.Column("root_cause", sa.Text),
    sa.Column("components", sa.JSON, nullable=False),
    sa.Column("workloads", sa.JSON, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("expected_ratio", sa.Float, nullable=False),
    sa.Column("effort", sa.Float, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("risk", sa.String(16), nullable=False),
    sa.Column("verification", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("candidate_ref", sa.Text),
    sa.Column("candidate_sha", sa.String(64)),
    sa.Column("implemented_at", sa.String(40)),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
    sa.UniqueConstraint("engagement_id", "number", name="uq_hypotheses_engagement_number"),
)

designs = sa.Table(
    "designs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hypothesis_id", sa.Integer, sa.ForeignKey("hypotheses.id"), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, sa.ForeignKey("engagements.id"), nullable=False),
    sa.Column("hypothesis_id", sa.Integer, sa.ForeignKey("hypotheses.id")),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("by", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
)

decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, sa.ForeignKey("engagements.id"), nullable=False),
    sa.Column("hypothesis_id", sa.Integer, sa.ForeignKey("hypotheses.id")),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("why", sa.Text),
    sa.Column("evidence", sa.JSON, nullable=False),
)

validations = sa.Table(
    "validations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("hypothesis_id", sa.Integer, sa.ForeignKey("hypotheses.id"), nullable=False),
    sa.Column("candidate_ref", sa.Text, nullable=False),
    sa.Column("candidate_sha", sa.String(64), nullable=False),
    sa.Column("base_ref", sa.Text, nullable=False),
    sa.Column("base_sha", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

inventories = sa.Table(
    "inventories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, sa.ForeignKey("engagements.id")),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
)

TABLES = (engagements, hypotheses, designs, approvals, decisions, validations, inventories)


def migrate_1_to_2(conn: Connection) -> None:
    """Schema 1 -> 2: add the engagement tables; nothing existing is altered."""
    metadata.create_all(conn, tables=list(TABLES), checkfirst=True)


s.MIGRATIONS.setdefault(2, migrate_1_to_2)


def _pk(result: sa.CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


now = utcnow  # the name the engagement services use

# --- engagements ------------------------------------------------------------------------------


def spec_from_json(doc: Mapping[str, Any]) -> EngagementSpec:
    return EngagementSpec(
        title=doc["title"],
        requester=doc.get("requester"),
        scenario=doc.get("scenario"),
        goals=tuple(Goal(**g) for g in doc.get("goals", [])),
        workloads=tuple(doc.get("workloads", [])),
        slos=tuple(SLOTarget(**x) for x in doc.get("slos", [])),
        constraints=tuple(doc.get("constraints", [])),
        stakeholders=tuple(Stakeholder(**x) for x in doc.get("stakeholders", [])),
        assumptions=tuple(doc.get("assumptions", [])),
        risk_tolerance=doc.get("risk_tolerance"),
        open_questions=tuple(doc.get("open_questions", [])),
        base=doc.get("base"),
        hardware=doc.get("hardware"),
        dataset=doc.get("dataset"),
        traffic=doc.get("traffic"),
        dashboards=tuple(doc.get("dashboards", [])),
        regression_tests=tuple(doc.get("regression_tests", [])),
        data_sources=tuple(doc.get("data_sources", [])),
        answers=tuple(QuestionAnswer(**a) for a in doc.get("answers", [])),
    )


def _engagement(row: Any) -> Engagement:
    return Engagement(
        id=row.id,
        spec=spec_from_json(row.spec),
        stage=Stage(row.stage),
        current=bool(row.is_current),
        confirmed_at=row.confirmed_at,
        created_at=row.created_at,
        generated_questions=tuple(row.generated_questions),
    )


MAX_TEXT = 64 * 1024  # characters in one free-text field (a note, a statement, a spec value)


def clean_text(value: Any, field: str) -> Any:
    """``value`` with every string redacted; UsageError when one is longer than ``MAX_TEXT``.

    Every free-text field of the engagement records goes through here before it is stored: a
    secret in a note never reaches the database, and a 1 MB note is refused, not kept.
    """
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise UsageError(
                f"{field}: {len(value)} characters, over the limit of {MAX_TEXT}; shorten it "
                "(put long material in a file and cite it)"
            )
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: clean_text(v, f"{field}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_text(v, field) for v in value]
    return value


def insert_engagement(conn: Connection, spec: EngagementSpec, questions: Sequence[str]) -> int:
    """Insert an engagement and make it the current one."""
    ts = now()
    doc = clean_text(spec.to_dict(), "intake")
    conn.execute(engagements.update().values(is_current=False))
    result = conn.execute(
        engagements.insert().values(
            title=doc["title"],
            spec=doc,
            stage=Stage.INTAKE.value,
            is_current=True,
            generated_questions=list(questions),
            created_at=ts,
            updated_at=ts,
        )
    )
    return _pk(result)


def update_engagement(conn: Connection, engagement_id: int, **values: Any) -> None:
    if "spec" in values:
        values["spec"] = clean_text(values["spec"], "intake")
        values["title"] = values["spec"]["title"]
    conn.execute(
        engagements.update()
        .where(engagements.c.id == engagement_id)
        .values(updated_at=now(), **values)
    )


def set_current(conn: Connection, engagement_id: int) -> None:
    conn.execute(engagements.update().values(is_current=False))
    conn.execute(
        engagements.update().where(engagements.c.id == engagement_id).values(is_current=True)
    )


def get_engagement(conn: Connection, engagement_id: int | None = None) -> Engagement | None:
    """By id, or the current engagement when ``engagement_id`` is None."""
    query = sa.select(engagements)
    if engagement_id is None:
        query = query.where(engagements.c.is_current.is_(True))
    else:
        query = query.where(engagements.c.id == engagement_id)
    row = conn.execute(query).first()
    return _engagement(row) if row is not None else None


def list_engagements(conn: Connection) -> list[Engagement]:
    rows = conn.execute(sa.select(engagements).order_by(engagements.c.id)).all()
    return [_engagement(r) for r in rows]


# --- hypotheses -------------------------------------------------------------------------------

_HYP_LISTS = ("components", "workloads", "verification", "evidence")


def _hypothesis(row: Any) -> Hypothesis:
    m = row._mapping
    values = dict(m)
    for key in _HYP_LISTS:
        values[key] = tuple(values[key])
    values["status"] = Status(values["status"])
    return Hypothesis(**values)


def insert_hypothesis(conn: Connection, engagement_id: int, fields: Mapping[str, Any]) -> int:
    number = conn.execute(
        sa.select(sa.func.coalesce(sa.func.max(hypotheses.c.number), 0)).where(
            hypotheses.c.engagement_id == engagement_id
        )
    ).scalar_one()
    ts = now()
    values = {k: clean_text(v, k) for k, v in fields.items()}
    for key in _HYP_LISTS:
        values[key] = list(values.get(key, ()))
    result = conn.execute(
        hypotheses.insert().values(
            engagement_id=engagement_id,
            number=int(number) + 1,
            status=Status.PROPOSED.value,
            created_at=ts,
            updated_at=ts,
            **values,
        )
    )
    return _pk(result)


def update_hypothesis(conn: Connection, hypothesis_id: int, **values: Any) -> None:
    values = {k: v if k == "status" else clean_text(v, k) for k, v in values.items()}
    for key in _HYP_LISTS:
        if key in values:
            values[key] = list(values[key])
    if "status" in values:
        values["status"] = str(values["status"])
    conn.execute(
        hypotheses.update()
        .where(hypotheses.c.id == hypothesis_id)
        .values(updated_at=now(), **values)
    )


def get_hypothesis(conn: Connection, engagement_id: int, number: int) -> Hypothesis | None:
    row = conn.execute(
        sa.select(hypotheses).where(
            hypotheses.c.engagement_id == engagement_id, hypotheses.c.number == number
        )
    ).first()
    return _hypothesis(row) if row is not None else None


def list_hypotheses(conn: Connection, engagement_id: int) -> list[Hypothesis]:
    rows = conn.execute(
        sa.select(hypotheses)
        .where(hypotheses.c.engagement_id == engagement_id)
        .order_by(hypotheses.c.number)
    ).all()
    return [_hypothesis(r) for r in rows]


# --- designs, approvals, decisions, validations, inventories ----------------------------------


def insert_design(conn: Connection, hypothesis_id: int, data: Mapping[str, Any], actor: str) -> int:
    result = conn.execute(
        designs.insert().values(
            hypothesis_id=hypothesis_id,
            data=clean_text(dict(data), "design"),
            actor=actor,
            created_at=now(),
        )
    )
    return _pk(result)


def latest_design(conn: Connection, hypothesis_id: int) -> Design | None:
    row = conn.execute(
        sa.select(designs)
        .where(designs.c.hypothesis_id == hypothesis_id)
        .order_by(designs.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    data = dict(row.data)
    data["tests_to_add"] = tuple(data.get("tests_to_add", ()))
    return Design(
        id=row.id,
        hypothesis_id=row.hypothesis_id,
        created_at=row.created_at,
        actor=row.actor,
        **data,
    )


def update_design_data(conn: Connection, design_id: int, data: Mapping[str, Any]) -> None:
    conn.execute(
        designs.update()
        .where(designs.c.id == design_id)
        .values(data=clean_text(dict(data), "design"))
    )


def insert_approval(
    conn: Connection,
    *,
    engagement_id: int,
    hypothesis_id: int | None,
    kind: str,
    by: str,
    note: str | None,
) -> int:
    result = conn.execute(
        approvals.insert().values(
            engagement_id=engagement_id,
            hypothesis_id=hypothesis_id,
            kind=kind,
            by=clean_text(by, "--by"),
            note=clean_text(note, "--note"),
            created_at=now(),
        )
    )
    return _pk(result)


def list_approvals(
    conn: Connection,
    engagement_id: int,
    *,
    kind: str | None = None,
    hypothesis_id: int | None = None,
) -> list[Approval]:
    query = sa.select(approvals).where(approvals.c.engagement_id == engagement_id)
    if kind:
        query = query.where(approvals.c.kind == kind)
    if hypothesis_id is not None:
        query = query.where(approvals.c.hypothesis_id == hypothesis_id)
    rows = conn.execute(query.order_by(approvals.c.id)).all()
    return [
        Approval(
            id=r.id,
            engagement_id=r.engagement_id,
            hypothesis_id=r.hypothesis_id,
            kind=r.kind,
            by=r.by,
            note=r.note,
            created_at=r.created_at,
        )
        for r in rows
    ]


def insert_decision(
    conn: Connection,
    *,
    engagement_id: int,
    actor: str,
    kind: str,
    what: str,
    why: str | None = None,
    evidence: Sequence[str] = (),
    hypothesis_id: int | None = None,
) -> int:
    result = conn.execute(
        decisions.insert().values(
            engagement_id=engagement_id,
            hypothesis_id=hypothesis_id,
            ts=now(),
            actor=clean_text(actor, "actor"),
            kind=kind,
            what=clean_text(what, "note"),
            why=clean_text(why, "why"),
            evidence=clean_text(list(evidence), "evidence"),
        )
    )
    return _pk(result)


def list_decisions(conn: Connection, engagement_id: int) -> list[Decision]:
    rows = conn.execute(
        sa.select(decisions)
        .where(decisions.c.engagement_id == engagement_id)
        .order_by(decisions.c.id)
    ).all()
    return [
        Decision(
            id=r.id,
            engagement_id=r.engagement_id,
            ts=r.ts,
            actor=r.actor,
            kind=r.kind,
            what=r.what,
            why=r.why,
            evidence=tuple(r.evidence),
            hypothesis_id=r.hypothesis_id,
        )
        for r in rows
    ]


def insert_validation(conn: Connection, **values: Any) -> int:
    values["outcome"] = str(values["outcome"])
    values["reasons"] = list(values["reasons"])
    result = conn.execute(validations.insert().values(created_at=now(), **values))
    return _pk(result)


def _validation(r: Any) -> Validation:
    return Validation(
        id=r.id,
        hypothesis_id=r.hypothesis_id,
        candidate_ref=r.candidate_ref,
        candidate_sha=r.candidate_sha,
        base_ref=r.base_ref,
        base_sha=r.base_sha,
        outcome=Status(r.outcome),
        reasons=tuple(r.reasons),
        evidence=dict(r.evidence),
        created_at=r.created_at,
    )


def list_validations(conn: Connection, hypothesis_id: int) -> list[Validation]:
    rows = conn.execute(
        sa.select(validations)
        .where(validations.c.hypothesis_id == hypothesis_id)
        .order_by(validations.c.id)
    ).all()
    return [_validation(r) for r in rows]


def get_validation(conn: Connection, validation_id: int) -> Validation | None:
    row = conn.execute(sa.select(validations).where(validations.c.id == validation_id)).first()
    return _validation(row) if row is not None else None


def get_hypothesis_by_id(conn: Connection, hypothesis_id: int) -> Hypothesis | None:
    row = conn.execute(sa.select(hypotheses).where(hypotheses.c.id == hypothesis_id)).first()
    return _hypothesis(row) if row is not None else None


def insert_inventory(conn: Connection, engagement_id: int | None, data: Mapping[str, Any]) -> int:
    result = conn.execute(
        inventories.insert().values(engagement_id=engagement_id, data=dict(data), created_at=now())
    )
    return _pk(result)


def latest_inventory(conn: Connection) -> tuple[int, dict[str, Any], str] | None:
    row = conn.execute(sa.select(inventories).order_by(inventories.c.id.desc()).limit(1)).first()
    return (row.id, dict(row.data), row.created_at) if row is not None else None
