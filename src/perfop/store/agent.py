"""Agent tables: one row per ``perfop agent`` session and one per transcript entry.

Everything written here has already been redacted by ``perfop.agent.transcript``; these are plain
queries that take a ``Store``. The tables are new (no data migration), so ``open_store`` creates
them on first use without a schema-version step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from perfop.clock import utcnow
from perfop.store import Store
from perfop.store import schema as s

agent_sessions = sa.Table(
    "agent_sessions",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("engagement_id", sa.Integer, index=True),
    sa.Column("goal", sa.Text, nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("branch", sa.Text),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("summary", sa.Text),
    sa.Column("steps", sa.Integer, nullable=False, default=0),
    sa.Column("input_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("output_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40)),
)

agent_messages = sa.Table(
    "agent_messages",
    s.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "session_id",
        sa.Integer,
        sa.ForeignKey("agent_sessions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),
    # system | user | assistant | tool | runner | human
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.Text),  # tool name for tool calls and results
    sa.Column("content", sa.JSON, nullable=False),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.UniqueConstraint("session_id", "seq", name="uq_agent_messages_session_seq"),
)


@dataclass(frozen=True)
class SessionRecord:
    id: int
    engagement_id: int | None
    goal: str
    provider: str
    model: str
    endpoint: str
    branch: str | None
    status: str
    summary: str | None
    steps: int
    input_tokens: int
    output_tokens: int
    started_at: str
    finished_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class MessageRecord:
    seq: int
    ts: str
    stage: str
    role: str
    name: str | None
    content: Any
    input_tokens: int | None
    output_tokens: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def begin_session(store: Store, *, goal: str, provider: str, model: str, endpoint: str) -> int:
    with store.write() as conn:
        result = conn.execute(
            agent_sessions.insert().values(
                goal=goal,
                provider=provider,
                model=model,
                endpoint=endpoint,
                status="running",
                steps=0,
                input_tokens=0,
                output_tokens=0,
                started_at=utcnow(),
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def update_session(store: Store, session_id: int, **values: Any) -> None:
    if values.get("status") not in (None, "running"):
        values.setdefault("finished_at", utcnow())
    with store.write() as conn:
        conn.execute(
            agent_sessions.update().where(agent_sessions.c.id == session_id).values(**values)
        )


def add_message(
    store: Store,
    session_id: int,
    *,
    seq: int,
    stage: str,
    role: str,
    content: Any,
    name: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> None:
    with store.write() as conn:
        conn.execute(
            agent_messages.insert().values(
                session_id=session_id,
                seq=seq,
                ts=utcnow(),
                stage=stage,
                role=role,
                name=name,
                content=content,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        )


def _session(row: Any) -> SessionRecord:
    return SessionRecord(**{c: row._mapping[c] for c in SessionRecord.__dataclass_fields__})


def get_session(store: Store, session_id: int) -> SessionRecord | None:
    with store.read() as conn:
        row = conn.execute(
            sa.select(agent_sessions).where(agent_sessions.c.id == session_id)
        ).first()
    return _session(row) if row is not None else None


def list_sessions(store: Store, *, engagement_id: int | None = None) -> list[SessionRecord]:
    query = sa.select(agent_sessions).order_by(agent_sessions.c.id)
    if engagement_id is not None:
        query = query.where(agent_sessions.c.engagement_id == engagement_id)
    with store.read() as conn:
        return [_session(r) for r in conn.execute(query).all()]


def list_messages(store: Store, session_id: int) -> list[MessageRecord]:
    with store.read() as conn:
        rows = conn.execute(
            sa.select(agent_messages)
            .where(agent_messages.c.session_id == session_id)
            .order_by(agent_messages.c.seq)
        ).all()
    return [
        MessageRecord(
            seq=r.seq,
            ts=r.ts,
            stage=r.stage,
            role=r.role,
            name=r.name,
            content=r.content,
            input_tokens=r.input_tokens,
            output_tokens=r.output_tokens,
        )
        for r in rows
    ]
